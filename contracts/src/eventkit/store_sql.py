"""SQL adapters of the event-store port: pick the event store by dialect; checkpoints for both.

Composition roots use `sql_event_store(engine)` and `SqlCheckpointStore(engine)` on an engine
from `eventkit.sql.create_engine`, after `eventkit.migrate.upgrade_event_store(url)`.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.sql import is_postgres, is_sqlite, write_engine
from eventkit.store import EventStore
from eventkit.store_postgres import PostgresEventStore
from eventkit.store_sql_base import checkpoints, database_errors
from eventkit.store_sqlite import SqliteEventStore


def sql_event_store(engine: AsyncEngine) -> EventStore:
    """The event store for `engine`'s database: PostgreSQL or SQLite."""
    if is_postgres(engine):
        return PostgresEventStore(engine)
    if is_sqlite(engine):
        return SqliteEventStore(engine)
    raise ValueError(f"no event store for the {engine.dialect.name} dialect")


class SqlCheckpointStore:
    """A CheckpointStore in the `checkpoints` table (PostgreSQL or SQLite)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writes = write_engine(engine)
        self._insert = postgresql.insert if is_postgres(engine) else sqlite.insert

    async def load(self, name: str) -> int:
        """The saved position of `name` (0 if it never saved one)."""
        query = sa.select(checkpoints.c.position).where(checkpoints.c.name == name)
        with database_errors(f"loading checkpoint {name!r}"):
            async with self._engine.connect() as connection:
                position = await connection.scalar(query)
        return 0 if position is None else int(position)

    async def save(self, name: str, position: int) -> None:
        """Record that `name` has handled everything up to `position`."""
        now = datetime.now(UTC)
        upsert = self._insert(checkpoints).values(name=name, position=position, updated_at=now)
        upsert = upsert.on_conflict_do_update(
            index_elements=[checkpoints.c.name],
            set_={"position": upsert.excluded.position, "updated_at": upsert.excluded.updated_at},
        )
        with database_errors(f"saving checkpoint {name!r}"):
            async with self._writes.begin() as connection:
                await connection.execute(upsert)


__all__ = ["PostgresEventStore", "SqlCheckpointStore", "SqliteEventStore", "sql_event_store"]
