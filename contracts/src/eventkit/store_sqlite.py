"""The SQLite event store: appends serialised by the database's single write lock.

Each append runs in a BEGIN IMMEDIATE transaction, which takes the write lock before reading
the stream. Positions (INTEGER PRIMARY KEY) are therefore drawn and committed in the same
order, and a reader paging `read_all` by position never skips an event.
"""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eventkit.sql import write_engine
from eventkit.store import (
    AppendResult,
    ConcurrencyError,
    DuplicateEventError,
    NewEvent,
    category_of,
    check_new_events,
)
from eventkit.store_sql_base import SqlEventReads, database_errors
from eventkit.store_sql_base import events as events_table


class SqliteEventStore(SqlEventReads):
    """An EventStore in a SQLite file."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._writes = write_engine(engine)
        # Writers of this process queue here, in FIFO order, rather than in SQLite's busy
        # handler, which polls with sleeps; BEGIN IMMEDIATE still orders other processes.
        self._write_lock = asyncio.Lock()

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], *, expected_version: int | None
    ) -> AppendResult:
        """Append atomically; committed when this returns."""
        async with self._write_lock, self._writes.begin() as connection:
            return await self.append_in_transaction(
                connection, stream_id, events, expected_version=expected_version
            )

    async def append_in_transaction(
        self,
        connection: AsyncConnection,
        stream_id: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int | None,
    ) -> AppendResult:
        """Append inside the caller's transaction, which must have begun with BEGIN IMMEDIATE.

        Open it with `eventkit.sql.write_engine(engine).begin()`; a deferred transaction
        could read a version another process is about to change.
        """
        check_new_events(events)
        with database_errors(f"append to {stream_id!r}"):
            retried = await _retried_batch(connection, stream_id, events)
            if retried is not None:
                return retried
            current = await _stream_version(connection, stream_id)
            if expected_version is not None and expected_version != current:
                raise ConcurrencyError(stream_id, expected_version, current)
            try:
                await connection.execute(events_table.insert(), _rows(stream_id, current, events))
            except IntegrityError as exc:
                # Only an event id repeated inside this batch gets here: the write lock rules
                # out a concurrent writer taking the same stream version.
                raise DuplicateEventError(
                    f"event ids repeated in a batch to {stream_id!r}"
                ) from exc
            last_version = current + len(events)
            query = (
                sa.select(events_table.c.global_position)
                .where(events_table.c.stream_id == stream_id)
                .where(events_table.c.stream_version == last_version)
            )
            position = (await connection.execute(query)).scalar_one()
        return AppendResult(stream_version=last_version, global_position=position)


async def _retried_batch(
    connection: AsyncConnection, stream_id: str, batch: Sequence[NewEvent]
) -> AppendResult | None:
    """The stored result if `batch` is already in the stream; DuplicateEventError if elsewhere."""
    ids = {event.event_id for event in batch}
    found = (
        await connection.execute(
            sa.select(
                events_table.c.stream_id,
                events_table.c.stream_version,
                events_table.c.global_position,
            ).where(events_table.c.event_id.in_(ids))
        )
    ).all()
    if not found:
        return None
    if len(found) < len(ids) or any(row.stream_id != stream_id for row in found):
        raise DuplicateEventError(
            f"event ids already used, not by a retry of this batch to {stream_id!r}"
        )
    last = max(found, key=lambda row: row.stream_version)
    return AppendResult(stream_version=last.stream_version, global_position=last.global_position)


async def _stream_version(connection: AsyncConnection, stream_id: str) -> int:
    query = sa.select(sa.func.max(events_table.c.stream_version)).where(
        events_table.c.stream_id == stream_id
    )
    current = await connection.scalar(query)
    return -1 if current is None else int(current)


def _rows(stream_id: str, current: int, batch: Sequence[NewEvent]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    category = category_of(stream_id)
    return [
        {
            "stream_id": stream_id,
            "stream_version": current + 1 + offset,
            "category": category,
            "event_id": event.event_id,
            "event_type": event.event_type,
            "schema_version": event.schema_version,
            "data": dict(event.data),
            "metadata": dict(event.metadata),
            "recorded_at": now,
        }
        for offset, event in enumerate(batch)
    ]
