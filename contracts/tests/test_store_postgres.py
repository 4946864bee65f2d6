"""The PostgreSQL adapters pass the event-store and checkpoint contracts."""

import asyncio
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.migrate import upgrade_event_store
from eventkit.pg_listen import EVENTS_CHANNEL, listening
from eventkit.store import (
    NO_STREAM,
    AppendResult,
    CheckpointStore,
    DuplicateEventError,
    EventStore,
)
from eventkit.store_sql import PostgresEventStore, SqlCheckpointStore, sql_event_store
from eventkit.testing.store_contract import (
    CheckpointStoreContract,
    EventStoreContract,
    new_event,
    new_stream,
)

pytestmark = pytest.mark.postgres


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, pg_engine: AsyncEngine) -> EventStore:
        return PostgresEventStore(pg_engine)


class TestSqlCheckpointStoreOnPostgres(CheckpointStoreContract):
    @pytest.fixture
    def checkpoints(self, pg_engine: AsyncEngine) -> CheckpointStore:
        return SqlCheckpointStore(pg_engine)


def test_factory_picks_the_postgres_store(pg_engine: AsyncEngine) -> None:
    assert isinstance(sql_event_store(pg_engine), PostgresEventStore)


async def test_migrating_twice_changes_nothing(postgres_url: str) -> None:
    await upgrade_event_store(postgres_url)


async def test_partial_retry_of_a_batch_is_refused(pg_engine: AsyncEngine) -> None:
    store = PostgresEventStore(pg_engine)
    stream = new_stream()
    stored = new_event()
    await store.append(stream, [stored], expected_version=NO_STREAM)
    with pytest.raises(DuplicateEventError):
        await store.append(stream, [stored, new_event()], expected_version=None)


async def test_event_id_repeated_inside_a_batch_is_refused(pg_engine: AsyncEngine) -> None:
    store = PostgresEventStore(pg_engine)
    event = new_event()
    with pytest.raises(DuplicateEventError):
        await store.append(new_stream(), [event, event], expected_version=NO_STREAM)


async def test_used_event_id_after_the_first_of_a_batch_is_refused(
    pg_engine: AsyncEngine,
) -> None:
    store = PostgresEventStore(pg_engine)
    used = new_event()
    await store.append(new_stream(), [used], expected_version=NO_STREAM)
    stream = new_stream()
    with pytest.raises(DuplicateEventError):
        await store.append(stream, [new_event(), used], expected_version=None)
    assert await store.read_stream(stream) == []


async def test_a_failing_append_does_not_fail_those_committed_with_it(
    pg_engine: AsyncEngine,
) -> None:
    store = PostgresEventStore(pg_engine)
    used = new_event()
    await store.append(new_stream(), [used], expected_version=NO_STREAM)
    streams = [new_stream() for _ in range(10)]
    # Submitted together, these share one group commit; the last one fails it.
    outcomes = await asyncio.gather(
        *(store.append(stream, [new_event()], expected_version=NO_STREAM) for stream in streams),
        store.append(new_stream(), [new_event(), used], expected_version=None),
        return_exceptions=True,
    )
    assert isinstance(outcomes[-1], DuplicateEventError)
    assert all(isinstance(outcome, AppendResult) for outcome in outcomes[:-1])
    for stream in streams:
        assert len(await store.read_stream(stream)) == 1


async def test_cancelled_append_leaves_the_pool_usable(pg_engine: AsyncEngine) -> None:
    store = PostgresEventStore(pg_engine)
    appending = asyncio.create_task(
        store.append(new_stream(), [new_event()], expected_version=None)
    )
    await asyncio.sleep(0)
    appending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await appending
    stream = f"test_{uuid4().hex}"
    result = await store.append(stream, [new_event()], expected_version=NO_STREAM)
    assert result.stream_version == 0


@pytest.mark.parametrize("statement", ["UPDATE events SET data = '{}'", "DELETE FROM events"])
async def test_stored_events_cannot_be_changed_or_removed(
    pg_engine: AsyncEngine, statement: str
) -> None:
    store = PostgresEventStore(pg_engine)
    stream = new_stream()
    await store.append(stream, [new_event()], expected_version=NO_STREAM)

    async with pg_engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text(statement))

    assert len(await store.read_stream(stream)) == 1


async def test_an_append_notifies_listeners_at_commit(
    pg_engine: AsyncEngine, postgres_url: str
) -> None:
    store = PostgresEventStore(pg_engine)
    woken = asyncio.Event()
    async with listening(postgres_url, EVENTS_CHANNEL, woken.set) as notified:
        assert notified
        await store.append(new_stream(), [new_event()], expected_version=NO_STREAM)
        await asyncio.wait_for(woken.wait(), timeout=5)
