"""Process entry point: `python -m file_service` serves the internal HTTP API."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from eventkit.ops.logs import configure_logging
from eventkit.ops.tracing import configure_tracing
from eventkit.process import settle_start_up_objects
from file_service.app import create_app
from file_service.bootstrap import FileServiceDeps, real_deps
from file_service.settings import FileServiceSettings


def app_from_settings(settings: FileServiceSettings) -> FastAPI:
    """The app wired to the database and blob directory that `settings` name."""

    @asynccontextmanager
    async def deps() -> AsyncIterator[FileServiceDeps]:
        async with real_deps(settings) as opened:
            settle_start_up_objects()
            yield opened

    return create_app(deps)


def main() -> None:
    """Read settings from the environment and serve HTTP."""
    settings = FileServiceSettings()
    configure_logging("file-service", settings.log_level, json_lines=settings.log_json)
    stop_tracing = configure_tracing("file-service")
    try:
        uvicorn.run(
            app_from_settings(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
        )
    finally:
        stop_tracing()  # export the spans still buffered
