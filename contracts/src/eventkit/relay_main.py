"""Process entry point of the relay: `python -m eventkit.relay_main` (distributed mode).

Several relays may run for availability; on PostgreSQL a session advisory lock makes one of
them the publisher and the others wait to take over.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.routing import RUN_PARTITION_QUEUES
from eventkit.bus_rabbit import RabbitBus
from eventkit.ops.checks import store_check
from eventkit.ops.http import ops_app, serving_ops
from eventkit.ops.service import observed
from eventkit.pg_listen import commit_notifications
from eventkit.process import settle_start_up_objects, wait_for_shutdown
from eventkit.relay import Relay
from eventkit.sql import create_engine, is_postgres
from eventkit.store import EventStore
from eventkit.store_sql import SqlCheckpointStore, sql_event_store

logger = logging.getLogger("eventkit.relay")

LEADER_LOCK = "cie:relay"


class RelaySettings(BaseSettings):
    """Read once, in main()."""

    model_config = SettingsConfigDict(env_prefix="CIE_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    relay_poll_s: float = 0.05  # without PostgreSQL notifications (SQLite)
    relay_poll_notified_s: float = 0.5  # a fallback: each commit of events wakes the relay
    relay_batch_size: int = 500
    relay_checkpoint_every_s: float = 0.5  # at most this much is republished after a crash
    log_level: str = "INFO"
    host: str = "127.0.0.1"  # where the operations endpoints listen (0.0.0.0 in containers)
    ops_port: int = 9000  # /healthz, /readyz, /metrics
    log_json: bool = True  # JSON lines with correlation ids; false: plain text


@contextlib.asynccontextmanager
async def leadership(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold the relay leader lock (PostgreSQL) for as long as the block runs."""
    if not is_postgres(engine):
        yield
        return
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": LEADER_LOCK})
        await conn.commit()
        logger.info("relay is the leader")
        yield


async def serve(settings: RelaySettings) -> None:
    """Publish committed events until SIGTERM or SIGINT."""
    engine = create_engine(settings.database_url)
    try:
        store = sql_event_store(engine)
        async with RabbitBus.connect(settings.amqp_url) as bus:
            checks = {"database": store_check(store), "broker": bus.check}
            async with serving_ops(ops_app(checks), settings.host, settings.ops_port):
                await _relay(engine, store, bus, settings)
    finally:
        await engine.dispose()
    logger.info("relay stopped")


async def _relay(
    engine: AsyncEngine, store: EventStore, bus: RabbitBus, settings: RelaySettings
) -> None:
    async with leadership(engine):
        relay = Relay(
            store,
            bus,
            SqlCheckpointStore(engine),
            batch_size=settings.relay_batch_size,
            checkpoint_every_s=settings.relay_checkpoint_every_s,
            queues=RUN_PARTITION_QUEUES,
        )
        async with commit_notifications(engine, settings.database_url, relay.wake) as notified:
            poll = settings.relay_poll_notified_s if notified else settings.relay_poll_s
            publishing = asyncio.create_task(relay.run(poll_interval=poll))
            settle_start_up_objects()
            logger.info("relay ready (%s)", "notified" if notified else f"polling {poll} s")
            await wait_for_shutdown()
            publishing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publishing


def main() -> None:
    """Read settings from the environment and relay."""
    settings = RelaySettings()
    with observed("relay", settings.log_level, json_lines=settings.log_json):
        asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
