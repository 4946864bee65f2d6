"""The composition root: wires thread-service to whichever adapters it is given."""

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eventkit.bus import CommandBus
from eventkit.ops.checks import store_check
from eventkit.ops.probes import Check
from eventkit.store import EventStore
from thread_service.consumers import serve_thread_commands
from thread_service.service import Threads
from thread_service.settings import ThreadServiceSettings


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    """Everything thread-service needs from outside."""

    store: EventStore
    commands: CommandBus
    clock: Callable[[], datetime] = utc_now
    checks: Mapping[str, Check] = field(default_factory=dict)  # readiness, beside the store

    def readiness(self) -> dict[str, Check]:
        """Every readiness check of the service."""
        return {"database": store_check(self.store), **self.checks}


async def start(deps: Deps, *, prefetch: int = 16) -> Threads:
    """Start serving thread commands; returns the use cases (for embedding and tests)."""
    threads = Threads(deps.store, deps.clock)
    await serve_thread_commands(deps.commands, threads, prefetch=prefetch)
    return threads


@asynccontextmanager
async def real_deps(settings: ThreadServiceSettings) -> AsyncIterator[Deps]:
    """PostgreSQL (or SQLite) store and RabbitMQ bus from settings."""
    from eventkit.bus_rabbit import RabbitBus
    from eventkit.sql import create_engine
    from eventkit.store_sql import sql_event_store

    engine = create_engine(settings.database_url)
    try:
        async with RabbitBus.connect(settings.amqp_url) as bus:
            yield Deps(store=sql_event_store(engine), commands=bus, checks={"broker": bus.check})
    finally:
        await engine.dispose()
