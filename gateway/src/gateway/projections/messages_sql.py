"""The messages read model in SQL (PostgreSQL or SQLite), beside the event store."""

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eventkit.sql import write_engine
from eventkit.store import StoredEvent
from gateway.projections.messages import (
    NOT_PROJECTED,
    MessageRow,
    ProjectionGap,
    ThreadRow,
    ViewDump,
    new_events,
    row_for,
)
from gateway.projections.tables import message_views, thread_views


class SqlMessagesView:
    """A MessagesView in the `thread_views` and `message_views` tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def version_of(self, thread_id: str) -> int:
        async with self._engine.connect() as conn:
            version = await conn.scalar(
                select(thread_views.c.version).where(thread_views.c.thread_id == thread_id)
            )
        return NOT_PROJECTED if version is None else int(version)

    async def apply(self, thread_id: str, events: Sequence[StoredEvent]) -> None:
        try:
            async with write_engine(self._engine).begin() as conn:
                # The row lock serialises appliers of one thread (PostgreSQL; SQLite
                # serialises all writers anyway).
                current = await conn.scalar(
                    select(thread_views.c.version)
                    .where(thread_views.c.thread_id == thread_id)
                    .with_for_update()
                )
                fresh = new_events(NOT_PROJECTED if current is None else int(current), events)
                if fresh:
                    await self._write(conn, thread_id, fresh)
        except IntegrityError as clash:  # a concurrent applier created the same rows first
            raise ProjectionGap(f"{thread_id}: applied concurrently") from clash

    @staticmethod
    async def _write(conn: AsyncConnection, thread_id: str, fresh: list[StoredEvent]) -> None:
        for event in fresh:
            row = row_for(event)
            if isinstance(row, ThreadRow):
                await conn.execute(insert(thread_views).values(**_thread_values(row)))
            elif isinstance(row, MessageRow):
                await conn.execute(insert(message_views).values(**_message_values(row)))
        await conn.execute(
            update(thread_views)
            .where(thread_views.c.thread_id == thread_id)
            .values(version=fresh[-1].stream_version)
        )

    async def thread(self, thread_id: str) -> ThreadRow | None:
        async with self._engine.connect() as conn:
            found = (
                await conn.execute(
                    select(thread_views).where(thread_views.c.thread_id == thread_id)
                )
            ).first()
        return (
            None if found is None else ThreadRow(found.thread_id, found.created_at, found.version)
        )

    async def messages(self, thread_id: str) -> list[MessageRow]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(message_views)
                .where(message_views.c.thread_id == thread_id)
                .order_by(message_views.c.version)
            )
            return [_message_row(row) for row in rows]

    async def dump(self) -> ViewDump:
        async with self._engine.connect() as conn:
            threads = await conn.execute(select(thread_views).order_by(thread_views.c.thread_id))
            messages = await conn.execute(
                select(message_views).order_by(message_views.c.thread_id, message_views.c.version)
            )
            return ViewDump(
                threads=tuple(ThreadRow(r.thread_id, r.created_at, r.version) for r in threads),
                messages=tuple(_message_row(row) for row in messages),
            )

    async def replace_all(self, dump: ViewDump) -> None:
        async with write_engine(self._engine).begin() as conn:
            await conn.execute(delete(message_views))
            await conn.execute(delete(thread_views))
            if dump.threads:
                await conn.execute(insert(thread_views), [_thread_values(r) for r in dump.threads])
            if dump.messages:
                await conn.execute(
                    insert(message_views), [_message_values(r) for r in dump.messages]
                )


def _thread_values(row: ThreadRow) -> dict[str, Any]:
    return {"thread_id": row.thread_id, "created_at": row.created_at, "version": row.version}


def _message_values(row: MessageRow) -> dict[str, Any]:
    return {
        "message_id": row.id,
        "thread_id": row.thread_id,
        "version": row.version,
        "role": row.role,
        "content": row.content,
        "annotations": json.dumps(list(row.annotations)),
        "created_at": row.created_at,
    }


def _message_row(row: Any) -> MessageRow:
    return MessageRow(
        id=row.message_id,
        thread_id=row.thread_id,
        version=row.version,
        role=row.role,
        content=row.content,
        created_at=row.created_at,
        annotations=tuple(json.loads(row.annotations)),
    )
