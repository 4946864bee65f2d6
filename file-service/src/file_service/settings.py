"""file-service configuration, from CIE_* environment variables."""

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MAX_UPLOAD_BYTES = 512 << 20
DEFAULT_STORAGE_LIMIT_MB = 10240
"""Total size of stored files allowed by default, in MiB (10 GiB)."""
DEFAULT_STORAGE_LIMIT_BYTES = DEFAULT_STORAGE_LIMIT_MB << 20


class FileServiceSettings(BaseSettings):
    """Read once, in main.py."""

    model_config = SettingsConfigDict(env_prefix="CIE_", extra="ignore", populate_by_name=True)

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    blob_dir: Path = Path("data/blobs")
    max_upload_bytes: int = Field(default=DEFAULT_MAX_UPLOAD_BYTES, gt=0)
    storage_limit_mb: int = Field(
        default=DEFAULT_STORAGE_LIMIT_MB,
        ge=0,
        validation_alias=AliasChoices("CIE_FILE_STORAGE_LIMIT_MB"),
        description="Total size of stored files in MiB; an upload past it gets 413 (0: no limit)",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8001, validation_alias=AliasChoices("CIE_FILE_SERVICE_PORT"))
    log_level: str = "INFO"
    log_json: bool = True  # JSON lines with correlation ids; false: plain text

    @property
    def storage_limit_bytes(self) -> int:
        """The storage limit in bytes (0: no limit)."""
        return self.storage_limit_mb << 20
