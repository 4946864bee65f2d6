"""`make run`: the whole system in one process, serving the API on PORT (default 8000)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cie_embedded.system import RunsConfig, sqlite_system
from eventkit.ops.service import observed, serve_http
from eventkit.process import settle_start_up_objects
from file_service.settings import DEFAULT_STORAGE_LIMIT_MB
from gateway.app import create_app
from gateway.bootstrap import GatewayDeps
from gateway.settings import GatewaySettings
from run_service.bootstrap import engines_from, session_pool
from run_service.engines import ModelSettings
from run_service.settings import RunServiceSettings


class EmbeddedSettings(BaseSettings):
    """Read once, here."""

    model_config = SettingsConfigDict(env_prefix="CIE_", extra="ignore")

    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, validation_alias=AliasChoices("PORT", "CIE_PORT"))
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 512 * 1024 * 1024
    file_storage_limit_mb: int = Field(  # file-service's CIE_FILE_STORAGE_LIMIT_MB; 0: no limit
        default=DEFAULT_STORAGE_LIMIT_MB,
        ge=0,
        validation_alias=AliasChoices("CIE_FILE_STORAGE_LIMIT_MB"),
    )
    log_level: str = "INFO"
    log_json: bool = True  # JSON lines with correlation ids; false: plain text


def main() -> None:
    """Serve the API with SQLite under CIE_DATA_DIR and the in-memory bus."""
    settings = EmbeddedSettings()
    run_settings = RunServiceSettings()
    cors_origins = GatewaySettings().cors_origin_list  # CIE_CORS_ORIGINS, as the gateway reads it
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    data_dir = settings.data_dir.resolve()

    @asynccontextmanager
    async def system() -> AsyncIterator[GatewayDeps]:
        limits = run_settings.sandbox_limits()
        async with session_pool(
            data_dir / "sandbox",
            limits,
            run_settings.sandbox_isolation,
            run_settings.sandbox_bwrap,
        ) as pool:
            runs = RunsConfig(
                pool,
                engines_from(ModelSettings()),
                concurrency=run_settings.run_concurrency,
                run_timeout_s=run_settings.run_timeout_s,
            )
            async with sqlite_system(
                data_dir,
                runs,
                max_upload_bytes=settings.max_upload_bytes,
                storage_limit_bytes=settings.file_storage_limit_mb << 20,
            ) as deps:
                settle_start_up_objects()
                yield deps

    app = create_app(
        system,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        cors_origins=cors_origins,
    )
    with observed("cie-embedded", settings.log_level, json_lines=settings.log_json):
        serve_http(app, host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    main()
