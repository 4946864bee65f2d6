"""Process entry point: `python -m thread_service` (distributed mode)."""

import asyncio
import logging

from eventkit.ops.http import ops_app, serving_ops
from eventkit.ops.logs import configure_logging
from eventkit.ops.tracing import configure_tracing
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
    configure_logging("thread-service", settings.log_level, json_lines=settings.log_json)
    stop_tracing = configure_tracing("thread-service")
    try:
        asyncio.run(serve(settings))
    finally:
        stop_tracing()  # export the spans still buffered
