"""Wires every service of the embedded system around one store and the in-memory buses."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from eventkit.bus_memory import InMemoryCommandBus, InMemoryEventBus
from eventkit.relay import Relay
from eventkit.store import CheckpointStore, EventStore
from eventkit.store_memory import InMemoryCheckpointStore, InMemoryEventStore
from gateway.bootstrap import GatewayDeps
from gateway.projections.messages import MessagesView
from gateway.projections.messages_memory import InMemoryMessagesView
from thread_service import bootstrap as thread_service

RELAY_POLL_S = 0.05


@asynccontextmanager
async def embedded_system(
    store: EventStore, checkpoints: CheckpointStore, view: MessagesView
) -> AsyncIterator[GatewayDeps]:
    """Start thread-service and the relay in this process; yield what the gateway needs."""
    events = InMemoryEventBus()
    commands = InMemoryCommandBus()
    await thread_service.start(thread_service.Deps(store=store, commands=commands))
    relay = Relay(store, events, checkpoints)
    relaying = asyncio.create_task(relay.run(poll_interval=RELAY_POLL_S))
    try:
        yield GatewayDeps(store=store, events=events, commands=commands, view=view)
    finally:
        relaying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relaying
        await events.close()


@asynccontextmanager
async def in_memory_system() -> AsyncIterator[GatewayDeps]:
    """Everything in memory: nothing survives the process (tests, demos)."""
    async with embedded_system(
        InMemoryEventStore(), InMemoryCheckpointStore(), InMemoryMessagesView()
    ) as deps:
        yield deps


@asynccontextmanager
async def sqlite_system(database: Path) -> AsyncIterator[GatewayDeps]:
    """Events and read models in the SQLite file `database`: data survives a restart."""
    from eventkit.sql import create_engine
    from eventkit.store_sql import SqlCheckpointStore, sql_event_store
    from gateway.migrate import upgrade_all
    from gateway.projections.messages_sql import SqlMessagesView

    url = f"sqlite+aiosqlite:///{database}"
    await upgrade_all(url)
    engine = create_engine(url)
    try:
        async with embedded_system(
            sql_event_store(engine), SqlCheckpointStore(engine), SqlMessagesView(engine)
        ) as deps:
            yield deps
    finally:
        await engine.dispose()
