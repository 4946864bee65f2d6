"""Process entry point: `python -m file_service` serves the internal HTTP API."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from eventkit.ops.service import observed, serve_http
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
    with observed("file-service", settings.log_level, json_lines=settings.log_json):
        serve_http(
            app_from_settings(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
        )
