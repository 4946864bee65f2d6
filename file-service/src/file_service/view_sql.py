"""The file list in SQL (PostgreSQL or SQLite), in the `file_views` table beside the events."""

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.sql import is_postgres, write_engine
from eventkit.store import StoredEvent
from file_service.tables import file_views
from file_service.view import GENERATED, FileRow, row_for


class SqlFileView:
    """A FileView in the `file_views` table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if is_postgres(engine) else sqlite.insert

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        rows = [row for row in map(row_for, events) if row is not None]
        if not rows:
            return
        # Insert-if-absent makes a repeated or concurrent apply harmless.
        statement = self._insert(file_views).on_conflict_do_nothing(
            index_elements=[file_views.c.file_id]
        )
        async with write_engine(self._engine).begin() as conn:
            await conn.execute(statement, [_values(row) for row in rows])

    async def get(self, file_id: str) -> FileRow | None:
        async with self._engine.connect() as conn:
            found = (
                await conn.execute(select(file_views).where(file_views.c.file_id == file_id))
            ).first()
        return None if found is None else _row(found)

    async def produced_for_thread(self, thread_id: str) -> list[FileRow]:
        query = (
            select(file_views)
            .where(file_views.c.thread_id == thread_id, file_views.c.origin == GENERATED)
            .order_by(file_views.c.position)
        )
        async with self._engine.connect() as conn:
            return [_row(found) for found in await conn.execute(query)]

    async def stored_bytes(self) -> int:
        async with self._engine.connect() as conn:
            total = await conn.scalar(select(func.coalesce(func.sum(file_views.c.size), 0)))
        return int(total or 0)

    async def dump(self) -> tuple[FileRow, ...]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(file_views).order_by(file_views.c.file_id))
            return tuple(_row(found) for found in rows)

    async def replace_all(self, rows: Sequence[FileRow]) -> None:
        async with write_engine(self._engine).begin() as conn:
            await conn.execute(delete(file_views))
            if rows:
                await conn.execute(insert(file_views), [_values(row) for row in rows])


def _values(row: FileRow) -> dict[str, Any]:
    return {
        "file_id": row.file_id,
        "filename": row.filename,
        "size": row.size,
        "sha256": row.sha256,
        "media_type": row.media_type,
        "blob_key": row.blob_key,
        "created_at": row.created_at,
        "origin": row.origin,
        "thread_id": row.thread_id,
        "run_id": row.run_id,
        "profile": None if row.profile is None else json.dumps(row.profile),
        "position": row.position,
    }


def _row(found: Any) -> FileRow:
    return FileRow(
        file_id=found.file_id,
        filename=found.filename,
        size=found.size,
        sha256=found.sha256,
        media_type=found.media_type,
        blob_key=found.blob_key,
        created_at=found.created_at,
        origin=found.origin,
        thread_id=found.thread_id,
        run_id=found.run_id,
        profile=None if found.profile is None else json.loads(found.profile),
        position=found.position,
    )
