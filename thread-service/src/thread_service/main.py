"""Process entry point: `python -m thread_service` (distributed mode)."""

import asyncio
import logging

from eventkit.ops.http import ops_app, serving_ops
from eventkit.ops.service import observed
from eventkit.process import settle_start_up_objects, wait_for_shutdown
from thread_service.bootstrap import real_deps, start
from thread_service.settings import ThreadServiceSettings

logger = logging.getLogger("thread_service")


async def serve(settings: ThreadServiceSettings) -> None:
    """Serve thread commands until SIGTERM or SIGINT."""
    async with (
        real_deps(settings) as deps,
        serving_ops(ops_app(deps.readiness()), settings.host, settings.ops_port),
    ):
        await start(deps, prefetch=settings.command_prefetch)
        settle_start_up_objects()
        logger.info("thread-service ready")
        await wait_for_shutdown()
    logger.info("thread-service stopped")


def main() -> None:
    """Read settings from the environment and serve."""
    settings = ThreadServiceSettings()
    with observed("thread-service", settings.log_level, json_lines=settings.log_json):
        asyncio.run(serve(settings))
