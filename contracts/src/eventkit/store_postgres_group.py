"""Group commit for the PostgreSQL store: concurrent appends share one transaction.

Appends are serialised by one global lock held until commit, so one append per transaction
caps throughput at one lock hand-over plus one WAL flush per append. Appends that arrive
while a call is in flight wait in a queue and go together in the next call of
`eventkit_append_many`; each keeps its own outcome (a stale one does not undo the others).
"""

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.pg_driver import fetch, sqlstate

_APPEND_MANY = (
    "SELECT outcome, last_version, last_position"
    " FROM eventkit_append_many($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)

MAX_APPENDS_PER_CALL = 64
MAX_EVENTS_PER_CALL = 5_000
CALLS_IN_FLIGHT = 2
"""Two calls, so the next group already waits on the server's lock while one commits."""


@dataclass(frozen=True)
class AppendRequest:
    """One append, with its events already encoded for the driver."""

    stream_id: str
    category: str
    expected_version: int | None
    event_ids: list[UUID]
    event_types: list[str]
    schema_versions: list[int]
    data: str
    """A JSON array: the data of each event."""
    metadata: str
    """A JSON array: the metadata of each event."""


Outcome = tuple[str, int | None, int | None]
"""A row of eventkit_append_many: (outcome, last_version, last_position)."""

_Waiting = tuple[AppendRequest, "asyncio.Future[Outcome]"]


class GroupCommitter:
    """Sends queued appends to the server in groups, one call (one transaction) per group."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: deque[_Waiting] = deque()
        self._flushers: set[asyncio.Task[None]] = set()

    async def submit(self, request: AppendRequest) -> Outcome:
        """The outcome of `request` once its group committed (or the server's error)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.append((request, future))
        # Tasks of a loop that has gone away (e.g. between test sessions) will never run.
        self._flushers = {task for task in self._flushers if task.get_loop() is loop}
        if len(self._flushers) < CALLS_IN_FLIGHT:
            flusher = loop.create_task(self._flush())
            self._flushers.add(flusher)
            flusher.add_done_callback(lambda task: self._flushers.discard(task))
        return await future

    async def _flush(self) -> None:
        group: list[_Waiting] = []
        try:
            while self._waiting:
                group = self._next_group()
                if group:
                    await self._commit(group)
        except BaseException as exc:
            # Cancelled with the loop: whoever still waits must not wait forever.
            for _, future in [*group, *self._waiting]:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            self._waiting.clear()
            raise

    def _next_group(self) -> list[_Waiting]:
        group: list[_Waiting] = []
        events = 0
        while self._waiting and len(group) < MAX_APPENDS_PER_CALL:
            request, future = self._waiting[0]
            if group and events + len(request.event_ids) > MAX_EVENTS_PER_CALL:
                break
            self._waiting.popleft()
            if not future.done():  # done = the caller was cancelled before we got to it
                group.append((request, future))
                events += len(request.event_ids)
        return group

    async def _commit(self, group: list[_Waiting]) -> None:
        try:
            rows = await fetch(self._engine, _APPEND_MANY, *_arguments(group))
        except Exception as exc:
            if sqlstate(exc) is not None and len(group) > 1:
                # The server refused the transaction, so none of it was written: redo each
                # append alone, and only the faulty one fails.
                for waiting in group:
                    await self._commit([waiting])
                return
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), row in zip(group, rows, strict=True):
            if not future.done():
                future.set_result((row[0], row[1], row[2]))


def _arguments(group: list[_Waiting]) -> tuple[Any, ...]:
    requests = [request for request, _ in group]
    return (
        [r.stream_id for r in requests],
        [r.category for r in requests],
        [r.expected_version for r in requests],
        [len(r.event_ids) for r in requests],
        [x for r in requests for x in r.event_ids],
        [x for r in requests for x in r.event_types],
        [x for r in requests for x in r.schema_versions],
        [r.data for r in requests],
        [r.metadata for r in requests],
    )
