"""Process entry point: `python -m gateway` (distributed mode)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from eventkit.ops.service import observed, serve_http
from eventkit.process import settle_start_up_objects
from gateway.app import create_app
from gateway.bootstrap import GatewayDeps, real_deps
from gateway.settings import GatewaySettings


def app_from_settings(settings: GatewaySettings) -> FastAPI:
    """The app wired to PostgreSQL and RabbitMQ as `settings` say."""

    @asynccontextmanager
    async def deps() -> AsyncIterator[GatewayDeps]:
        async with real_deps(settings) as opened:
            settle_start_up_objects()
            yield opened

    return create_app(
        deps,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        cors_origins=settings.cors_origin_list,
    )


def main() -> None:
    """Read settings from the environment and serve HTTP."""
    settings = GatewaySettings()
    with observed("gateway", settings.log_level, json_lines=settings.log_json):
        serve_http(
            app_from_settings(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
        )
