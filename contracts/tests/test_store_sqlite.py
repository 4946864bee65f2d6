"""The SQLite adapters pass the event-store and checkpoint contracts."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.migrate import upgrade_event_store
from eventkit.sql import create_engine
from eventkit.store import NO_STREAM, CheckpointStore, DuplicateEventError, EventStore
from eventkit.store_sql import SqlCheckpointStore, SqliteEventStore, sql_event_store
from eventkit.testing.store_contract import (
    CheckpointStoreContract,
    EventStoreContract,
    new_event,
    new_stream,
)


@pytest_asyncio.fixture(loop_scope="session")
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated SQLite file of this test."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'events.db'}"
    await upgrade_event_store(url)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


class TestSqliteEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, sqlite_engine: AsyncEngine) -> EventStore:
        return SqliteEventStore(sqlite_engine)


class TestSqlCheckpointStoreOnSqlite(CheckpointStoreContract):
    @pytest.fixture
    def checkpoints(self, sqlite_engine: AsyncEngine) -> CheckpointStore:
        return SqlCheckpointStore(sqlite_engine)


def test_factory_picks_the_sqlite_store(sqlite_engine: AsyncEngine) -> None:
    assert isinstance(sql_event_store(sqlite_engine), SqliteEventStore)


async def test_event_id_repeated_inside_a_batch_is_refused(sqlite_engine: AsyncEngine) -> None:
    store = SqliteEventStore(sqlite_engine)
    event = new_event()
    stream = new_stream()
    with pytest.raises(DuplicateEventError):
        await store.append(stream, [event, event], expected_version=NO_STREAM)
    assert await store.read_stream(stream) == []


async def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'twice.db'}"
    await upgrade_event_store(url)
    await upgrade_event_store(url)


@pytest.mark.parametrize("statement", ["UPDATE events SET data = '{}'", "DELETE FROM events"])
async def test_stored_events_cannot_be_changed_or_removed(
    sqlite_engine: AsyncEngine, statement: str
) -> None:
    store = SqliteEventStore(sqlite_engine)
    stream = new_stream()
    await store.append(stream, [new_event()], expected_version=NO_STREAM)

    async with sqlite_engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text(statement))

    assert len(await store.read_stream(stream)) == 1
