"""Pages of the PostgreSQL log for `read_all`, with the next page fetched while one is decoded.

A catch-up reader spends as long decoding a page as the server spends producing it; fetching
page n+1 while the caller works on page n lets both run at once. Only full pages start a
read-ahead (a reader at the head gets short pages and always reads afresh). A full page read
ahead is exactly what a fresh read would return: positions are handed out in commit order,
so anything committed later lies beyond it.
"""

import asyncio
from collections import OrderedDict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.pg_driver import fetch

# data/metadata come back as text, decoded by the store: independent of the JSON codecs
# SQLAlchemy installs on its connections.
_COLUMNS = (
    "global_position, stream_id, stream_version, event_id, event_type, schema_version,"
    " data::text, metadata::text, recorded_at"
)
_READ_ALL = (
    f"SELECT {_COLUMNS} FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2"
)
_READ_CATEGORY = (
    f"SELECT {_COLUMNS} FROM events WHERE category = $3 AND global_position > $1"
    " ORDER BY global_position LIMIT $2"
)

READ_AHEAD_MIN_LIMIT = 100
"""Smaller pages are a tailing reader's: reading ahead would mostly fetch nothing."""

MAX_PAGES_AHEAD = 8
"""Pages read ahead and not yet asked for (one per reader that stopped after a full page)."""

_Key = tuple[int, int, str | None]


class LogPages:
    """Rows of the log after a position, optionally of one category, in position order."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._ahead: OrderedDict[_Key, asyncio.Task[list[Any]]] = OrderedDict()

    async def rows(self, after_position: int, limit: int, category: str | None) -> list[Any]:
        """Up to `limit` rows after `after_position`: global_position first, JSON as text."""
        key = (after_position, limit, category)
        rows = await self._ready(key)
        if rows is None:
            rows = await self._fetch(key)
        if limit >= READ_AHEAD_MIN_LIMIT and len(rows) == limit:
            self._read_ahead((rows[-1][0], limit, category))
        return rows

    async def _ready(self, key: _Key) -> list[Any] | None:
        task = self._ahead.pop(key, None)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            return None
        try:
            return await task
        except Exception:
            return None  # read afresh, and let that read raise if it must

    def _read_ahead(self, key: _Key) -> None:
        if key in self._ahead:
            return
        task = asyncio.get_running_loop().create_task(self._fetch(key))
        # Nobody may ever await it: retrieve its exception so it is not reported as lost.
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._ahead[key] = task
        while len(self._ahead) > MAX_PAGES_AHEAD:
            self._ahead.popitem(last=False)

    async def _fetch(self, key: _Key) -> list[Any]:
        after_position, limit, category = key
        if category is None:
            return await fetch(self._engine, _READ_ALL, after_position, limit)
        return await fetch(self._engine, _READ_CATEGORY, after_position, limit, category)
