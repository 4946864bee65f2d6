"""Model settings from the environment (CIE_MODEL_*)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_BASE_URL = "CIE_MODEL_BASE_URL"
ENV_API_KEY = "CIE_MODEL_API_KEY"
ENV_NAME = "CIE_MODEL_NAME"


class ModelSettings(BaseSettings):
    """Which OpenAI-compatible endpoint and model to use; none set means no model."""

    model_config = SettingsConfigDict(env_prefix="CIE_MODEL_", extra="ignore")

    base_url: str | None = None  # e.g. https://api.openai.com/v1 or http://localhost:11434/v1
    api_key: SecretStr | None = None  # local servers accept any key
    name: str | None = None  # e.g. gpt-4o-mini, llama3.1
    max_steps: int = 8
    timeout_s: float = 120.0

    @property
    def configured(self) -> bool:
        """Whether a model is named; without a base URL the SDK's default (OpenAI) is used."""
        return bool(self.name)
