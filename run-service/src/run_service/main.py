"""Process entry point: `python -m run_service` (distributed mode)."""

import asyncio
import logging

from eventkit.process import settle_start_up_objects, wait_for_shutdown
from run_service.bootstrap import real_deps, start
from run_service.settings import RunServiceSettings

logger = logging.getLogger("run_service")


async def serve(settings: RunServiceSettings) -> None:
    """Take run requests until SIGTERM or SIGINT."""
    async with real_deps(settings) as deps:
        await start(deps)
        settle_start_up_objects()
        logger.info("run-service ready (sandbox: %s)", deps.pool.sandbox.isolation_level())
        await wait_for_shutdown()
    logger.info("run-service stopped")


def main() -> None:
    """Read settings from the environment and serve."""
    settings = RunServiceSettings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    asyncio.run(serve(settings))
