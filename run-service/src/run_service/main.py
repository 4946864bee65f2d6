"""Process entry point: `python -m run_service` (distributed mode)."""

import asyncio
import logging

from eventkit.ops.http import ops_app, serving_ops
from eventkit.ops.logs import configure_logging
from eventkit.ops.tracing import configure_tracing
from eventkit.process import settle_start_up_objects, wait_for_shutdown
from run_service.bootstrap import real_deps, running
from run_service.settings import RunServiceSettings

logger = logging.getLogger("run_service")


async def serve(settings: RunServiceSettings) -> None:
    """Take run requests until SIGTERM or SIGINT."""
    async with (
        real_deps(settings) as deps,
        serving_ops(ops_app(deps.readiness()), settings.host, settings.ops_port),
        running(deps),
    ):
        settle_start_up_objects()
        logger.info("run-service ready (sandbox: %s)", deps.pool.sandbox.isolation_level())
        await wait_for_shutdown()
    logger.info("run-service stopped")


def main() -> None:
    """Read settings from the environment and serve."""
    settings = RunServiceSettings()
    configure_logging("run-service", settings.log_level, json_lines=settings.log_json)
    stop_tracing = configure_tracing("run-service")
    try:
        asyncio.run(serve(settings))
    finally:
        stop_tracing()  # export the spans still buffered
