"""thread-service configuration, from CIE_* environment variables."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class ThreadServiceSettings(BaseSettings):
    """Read once, in main.py."""

    model_config = SettingsConfigDict(env_prefix="CIE_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    command_prefetch: int = 16
    log_level: str = "INFO"
    host: str = "127.0.0.1"  # where the operations endpoints listen (0.0.0.0 in containers)
    ops_port: int = 9000  # /healthz, /readyz, /metrics
    log_json: bool = True  # JSON lines with correlation ids; false: plain text
