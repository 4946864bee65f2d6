"""Gateway configuration, from CIE_* environment variables (and PORT)."""

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
