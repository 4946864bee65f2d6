"""Wake-ups from PostgreSQL LISTEN/NOTIFY on a dedicated asyncpg connection."""

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

EVENTS_CHANNEL = "cie_events"
"""Notified at each commit that inserted events (migration 0002)."""


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """`postgresql+asyncpg://…` as asyncpg wants it."""
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextlib.asynccontextmanager
async def listening(url: str, channel: str, on_notify: Callable[[], None]) -> AsyncIterator[bool]:
    """Call `on_notify` on each notification while the block runs; yields whether it listens.

    A failure to listen is logged and tolerated: callers keep polling either way.
    """
    import asyncpg  # type: ignore[import-untyped]  # the postgres extra (no stubs)

    try:
        connection = await asyncpg.connect(asyncpg_dsn(url))
    except (OSError, asyncpg.PostgresError) as error:
        logger.warning("cannot LISTEN on %s (%s); polling only", channel, error)
        yield False
        return

    def callback(*_: Any) -> None:
        on_notify()

    try:
        await connection.add_listener(channel, callback)
        yield True
    finally:
        with contextlib.suppress(Exception):
            await connection.close()


@contextlib.asynccontextmanager
async def commit_notifications(
    engine: "AsyncEngine", url: str, on_commit: Callable[[], None]
) -> AsyncIterator[bool]:
    """Call `on_commit` whenever events commit (PostgreSQL); yields whether it will.

    On SQLite, or when listening fails, nothing calls back: callers keep polling.
    """
    from eventkit.sql import is_postgres

    if not is_postgres(engine):
        yield False
        return
    async with listening(url, EVENTS_CHANNEL, on_commit) as notified:
        yield notified
