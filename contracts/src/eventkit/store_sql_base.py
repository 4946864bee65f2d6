"""What the SQL event stores share: the tables as the adapters see them, and the reads.

The migrations own the DDL; these Table objects only describe the columns queries touch.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.sql import is_postgres
from eventkit.store import EventStoreError, StoredEvent


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp read back as an aware UTC datetime (SQLite stores it without a zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


_JSON = sa.JSON().with_variant(JSONB(), "postgresql")

metadata = sa.MetaData()

events = sa.Table(
    "events",
    metadata,
    sa.Column("global_position", sa.BigInteger, primary_key=True),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("stream_version", sa.Integer, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("schema_version", sa.SmallInteger, nullable=False),
    sa.Column("data", _JSON, nullable=False),
    sa.Column("metadata", _JSON, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

_EVENT_COLUMNS = (
    events.c.global_position,
    events.c.stream_id,
    events.c.stream_version,
    events.c.event_id,
    events.c.event_type,
    events.c.schema_version,
    events.c.data,
    events.c.metadata,
    events.c.recorded_at,
)


@contextmanager
def database_errors(action: str) -> Iterator[None]:
    """Re-raise a database or driver failure as the port's EventStoreError."""
    try:
        yield
    except EventStoreError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        raise EventStoreError(f"{action} failed: {exc}") from exc


def stored_event(row: Any) -> StoredEvent:
    """A StoredEvent from a row of `_EVENT_COLUMNS`, in that order."""
    return StoredEvent(
        global_position=row[0],
        stream_id=row[1],
        stream_version=row[2],
        event_id=row[3],
        event_type=row[4],
        schema_version=row[5],
        data=row[6],
        metadata=row[7],
        recorded_at=row[8],
    )


class SqlEventReads:
    """The read side of an EventStore over the events table (both dialects)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # On PostgreSQL a read is one statement: autocommit spares the BEGIN/ROLLBACK round
        # trips, and a single statement sees one consistent snapshot anyway.
        self._read_engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if is_postgres(engine)
            else engine
        )

    async def read_stream(
        self, stream_id: str, *, from_version: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """Events of one stream in version order, starting at `from_version`."""
        query = (
            sa.select(*_EVENT_COLUMNS)
            .where(events.c.stream_id == stream_id)
            .where(events.c.stream_version >= max(from_version, 0))
            .order_by(events.c.stream_version)
            .limit(limit)
        )
        return await self._select(query, f"reading stream {stream_id!r}")

    async def read_all(
        self, *, after_position: int = 0, limit: int = 1000, category: str | None = None
    ) -> list[StoredEvent]:
        """Events after a global position, in position order; optionally of one category."""
        query = sa.select(*_EVENT_COLUMNS).where(events.c.global_position > after_position)
        if category is not None:
            query = query.where(events.c.category == category)
        query = query.order_by(events.c.global_position).limit(max(limit, 0))
        return await self._select(query, "reading the log")

    async def head_position(self) -> int:
        """The highest committed global position (0 when empty)."""
        query = sa.select(sa.func.coalesce(sa.func.max(events.c.global_position), 0))
        with database_errors("reading the head position"):
            async with self._read_engine.connect() as connection:
                return int((await connection.execute(query)).scalar_one())

    async def _select(self, query: sa.Select[Any], action: str) -> list[StoredEvent]:
        with database_errors(action):
            async with self._read_engine.connect() as connection:
                rows = (await connection.execute(query)).all()
        return [stored_event(row) for row in rows]
