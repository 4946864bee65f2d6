"""thread-service configuration, from CIE_* environment variables."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class ThreadServiceSettings(BaseSettings):
    """Read once, in main.py."""

    model_config = SettingsConfigDict(env_prefix="CIE_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    command_prefetch: int = 16
    log_level: str = "INFO"
