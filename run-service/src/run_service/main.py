"""Process entry point: `python -m run_service` (distributed mode)."""

import asyncio
import logging

from eventkit.ops.http import ops_app, serving_ops
from eventkit.ops.service import observed
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
        logger.info("run-service ready")
        await wait_for_shutdown()
    logger.info("run-service stopped")


def main() -> None:
    """Read settings from the environment and serve."""
    settings = RunServiceSettings()
    with observed("run-service", settings.log_level, json_lines=settings.log_json):
        asyncio.run(serve(settings))
