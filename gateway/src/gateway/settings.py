"""Gateway configuration, from CIE_* environment variables (and PORT)."""

import re

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ORIGIN = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://"
    r"(?P<host>\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)"
    r"(?::(?P<port>[0-9]{1,5}))?",
    re.IGNORECASE,
)


def check_cors_origin(origin: str) -> str:
    """`origin` as browsers send it (lowercase scheme and host), or ValueError naming it."""
    if origin == "*":
        return origin
    match = _ORIGIN.fullmatch(origin)
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
        raise ValueError(
            f"{origin!r} is not a CORS origin: expected '*' or scheme://host[:port] "
            "(such as http://localhost:3000), without a path or a trailing '/'"
        )
    return origin.lower()


def parse_cors_origins(value: str) -> tuple[str, ...]:
    """CIE_CORS_ORIGINS: comma-separated origins, or `*`; empty means CORS is off.

    Spaces around items and empty items are ignored; a malformed origin raises ValueError.
    """
    origins = tuple(check_cors_origin(item.strip()) for item in value.split(",") if item.strip())
    if "*" in origins and len(origins) > 1:
        raise ValueError("'*' allows every origin: give it alone, or list the origins instead")
    return origins


class GatewaySettings(BaseSettings):
    """Read once, in main.py."""

    model_config = SettingsConfigDict(env_prefix="CIE_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, validation_alias=AliasChoices("PORT", "CIE_PORT"))
    command_timeout_s: float = 10.0
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 512 * 1024 * 1024
    file_service_url: str = "http://127.0.0.1:8001"
    file_service_timeout_s: float = 60.0
    projection_prefetch: int = 100
    run_timeout_s: float = 900.0  # how long /api/chat waits for a run's answer
    log_level: str = "INFO"
    log_json: bool = True  # JSON lines with correlation ids; false: plain text
    # Browser origins allowed to call the API (CORS): comma-separated, or "*"; empty: CORS off.
    # A str, not a list: pydantic-settings would expect a list as JSON.
    cors_origins: str = ""

    @field_validator("cors_origins")
    @classmethod
    def _valid_cors_origins(cls, value: str) -> str:
        parse_cors_origins(value)  # refuse a malformed origin at start-up
        return value

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        """`cors_origins` parsed: what `create_app(cors_origins=...)` takes."""
        return parse_cors_origins(self.cors_origins)
