"""Choosing the engine from the settings."""

from __future__ import annotations

from run_service.engines.no_model import NoModelEngine
from run_service.engines.port import Engine
from run_service.engines.settings import ModelSettings


def engine_from_settings(settings: ModelSettings) -> Engine:
    """An OpenAIEngine when a model is named, else the NoModelEngine."""
    if not settings.configured or settings.name is None:
        return NoModelEngine()
    # Imported only when a model is configured: the SDK takes about a second to import, which
    # the embedded default (no model) would otherwise add to every start-up.
    from run_service.engines.openai_engine import OpenAIEngine

    key = settings.api_key.get_secret_value() if settings.api_key else None
    return OpenAIEngine(
        settings.base_url,
        key,
        settings.name,
        max_steps=settings.max_steps,
        timeout=settings.timeout_s,
    )
