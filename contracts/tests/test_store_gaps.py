"""Readers never skip: a reader paging `read_all` by position sees every committed event once.

The gap problem (shared/notes/eventstore.md §1): if positions were drawn in a different order
than transactions commit, a reader that has seen position p+1 would never go back for p when
p's transaction commits later. Many concurrent writers (single events, batches, optimistic
appends that conflict, slow transactions that commit or roll back after drawing positions,
batches that fail on a duplicate id) race two readers that follow the log as it grows.

Checked to fail when the PostgreSQL append lock is per stream or per category instead of
global: the reader then misses 5-15 % of the events.
"""

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eventkit.migrate import upgrade_event_store
from eventkit.sql import create_engine, write_engine
from eventkit.store import (
    ConcurrencyError,
    DuplicateEventError,
    EventStore,
    NewEvent,
    StoredEvent,
)
from eventkit.store_postgres import PostgresEventStore
from eventkit.store_sqlite import SqliteEventStore
from eventkit.testing.store_contract import new_event

WRITERS = 32
OPERATIONS_PER_WRITER = 40
STREAMS_PER_CATEGORY = 6
TAIL_PAGE = 50
CATCH_UP_PAGE = 100
MAX_TRANSACTION_DELAY_S = 0.003

Begin = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


class TransactionalStore(EventStore, Protocol):
    """A SQL store: it can also append inside a caller's transaction."""

    async def append_in_transaction(
        self,
        connection: AsyncConnection,
        stream_id: str,
        events: list[NewEvent],
        *,
        expected_version: int | None,
    ) -> object: ...


class _RolledBack(Exception):
    """Raised inside a transaction to roll it back."""


@dataclass
class Ledger:
    """What the writers know happened."""

    committed: set[UUID] = field(default_factory=set)
    rolled_back: int = 0
    conflicts: int = 0
    duplicates: int = 0


async def write(
    store: TransactionalStore, begin: Begin, streams: list[str], seed: int, ledger: Ledger
) -> None:
    """One writer: a random mix of every kind of append."""
    rng = random.Random(seed)
    for _ in range(OPERATIONS_PER_WRITER):
        stream = rng.choice(streams)
        batch = [new_event(n=rng.random()) for _ in range(rng.choice((1, 1, 1, 2, 5)))]
        roll = rng.random()
        if roll < 0.45:
            await store.append(stream, batch, expected_version=None)
        elif roll < 0.65:
            # Optimistic: concurrent writers often move the stream in between.
            version = len(await store.read_stream(stream)) - 1
            try:
                await store.append(stream, batch, expected_version=version)
            except ConcurrencyError:
                ledger.conflicts += 1
                continue
        elif roll < 0.7:
            with pytest.raises(ConcurrencyError):
                await store.append(stream, batch, expected_version=10_000)
            ledger.conflicts += 1
            continue
        elif roll < 0.75:
            # The repeated id fails the insert after positions were drawn for the batch.
            with pytest.raises(DuplicateEventError):
                await store.append(stream, [*batch, batch[0]], expected_version=None)
            ledger.duplicates += 1
            continue
        else:
            commit = roll < 0.9
            try:
                async with begin() as connection:
                    await store.append_in_transaction(
                        connection, stream, batch, expected_version=None
                    )
                    # Hold the transaction open after the positions were drawn.
                    await asyncio.sleep(rng.uniform(0, MAX_TRANSACTION_DELAY_S))
                    if not commit:
                        raise _RolledBack
            except _RolledBack:
                ledger.rolled_back += 1
                continue
        ledger.committed.update(event.event_id for event in batch)


async def follow(
    store: EventStore, start: int, writers_done: asyncio.Event, page_size: int, pause_s: float
) -> list[StoredEvent]:
    """Poll the log from `start` until the writers are done and nothing more comes."""
    seen: list[StoredEvent] = []
    last = start
    while True:
        # Sampled before the read: an empty page read after every writer returned is the end.
        finished = writers_done.is_set()
        page = await store.read_all(after_position=last, limit=page_size)
        if page:
            seen.extend(page)
            last = page[-1].global_position
        elif finished:
            return seen
        await asyncio.sleep(pause_s)


def check(seen: list[StoredEvent], ledger: Ledger, streams: list[str]) -> None:
    """Every committed event seen once, nothing else, in position and version order."""
    positions = [event.global_position for event in seen]
    assert all(a < b for a, b in itertools.pairwise(positions)), "out of order"
    ids = [event.event_id for event in seen]
    assert len(ids) == len(set(ids)), "an event was seen twice"
    missed = ledger.committed - set(ids)
    assert not missed, f"the reader skipped {len(missed)} of {len(ledger.committed)} events"
    assert set(ids) == ledger.committed, "the reader saw events that were never committed"
    for stream in streams:
        versions = [event.stream_version for event in seen if event.stream_id == stream]
        assert versions == list(range(len(versions))), f"{stream} seen out of version order"


async def readers_never_skip(store: TransactionalStore, begin: Begin) -> None:
    """Run the writers against one reader, then check what the reader saw."""
    tag = uuid4().hex[:8]
    categories = [f"gap{letter}{tag}" for letter in "abcd"]
    streams = [f"{c}_{n}" for c in categories for n in range(STREAMS_PER_CATEGORY)]
    ledger = Ledger()
    writers_done = asyncio.Event()
    start = await store.head_position()
    # A tailer close behind the writers, and a reader that lags and catches up in full
    # pages (the PostgreSQL store reads those ahead).
    readers = [
        asyncio.create_task(follow(store, start, writers_done, TAIL_PAGE, 0.001)),
        asyncio.create_task(follow(store, start, writers_done, CATCH_UP_PAGE, 0.25)),
    ]
    try:
        await asyncio.gather(
            *(write(store, begin, streams, seed, ledger) for seed in range(WRITERS))
        )
    finally:
        writers_done.set()
    for reader in readers:
        check([event for event in await reader if event.category in categories], ledger, streams)
    # Every kind of operation happened at least once.
    assert ledger.rolled_back, ledger
    assert ledger.conflicts, ledger
    assert ledger.duplicates, ledger


@pytest.mark.postgres
async def test_postgres_readers_never_skip(pg_engine: AsyncEngine) -> None:
    await readers_never_skip(PostgresEventStore(pg_engine), pg_engine.begin)


@pytest_asyncio.fixture(loop_scope="session")
async def sqlite_gap_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated SQLite file of this test."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'gaps.db'}"
    await upgrade_event_store(url)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_sqlite_readers_never_skip(sqlite_gap_engine: AsyncEngine) -> None:
    store = SqliteEventStore(sqlite_gap_engine)
    await readers_never_skip(store, write_engine(sqlite_gap_engine).begin)
