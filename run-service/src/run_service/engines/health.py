"""The `model` line of /readyz: whether the configured model server answers.

It reports and never fails readiness: a slow or unreachable model server makes runs that need
it fail with their own reason, while the built-in programs and fenced code keep working.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from run_service.engines.settings import ModelSettings

OPENAI_BASE_URL = "https://api.openai.com/v1"  # the SDK's default when no base URL is set
MODEL_CHECK_TIMEOUT_S = 1.0  # under the probe's own 2 s: a slow model is reported, not a failure


def model_check(
    settings: ModelSettings | None, timeout_s: float = MODEL_CHECK_TIMEOUT_S
) -> Callable[[], Awaitable[str]]:
    """A readiness check that asks the model server for `GET {base_url}/models`.

    One HTTP client serves every probe (made on the first): a new one per probe would cost
    about 25 ms of the event loop's time, to load the CA certificates again.
    """
    clients: list[httpx.AsyncClient] = []

    async def check() -> str:
        if settings is None or not settings.configured:
            return "none configured (fenced code and built-in programs only; set CIE_MODEL_NAME)"
        base = (settings.base_url or OPENAI_BASE_URL).rstrip("/")
        where = f"{settings.name} at {base}"
        headers: dict[str, str] = {}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        if not clients:
            clients.append(httpx.AsyncClient(timeout=timeout_s))
        try:
            response = await clients[0].get(f"{base}/models", headers=headers)
        except httpx.TimeoutException:
            return f"{where} did not answer within {timeout_s:g} s"
        except httpx.HTTPError as error:
            return f"{where} does not answer ({type(error).__name__})"
        if response.status_code >= 400:
            return f"{where} answered HTTP {response.status_code}"
        listed = _model_ids(response)
        if listed is not None and settings.name not in listed:
            shown = ", ".join(sorted(listed)[:10]) or "none"
            return f"{where} answers, but does not list {settings.name} (it lists: {shown})"
        return f"{where} answers"

    return check


def _model_ids(response: httpx.Response) -> set[str] | None:
    """The model ids an OpenAI-style `/models` answer lists; None if it is not one."""
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        return None
    if not isinstance(data, list):
        return None
    return {str(m["id"]) for m in data if isinstance(m, dict) and "id" in m}
