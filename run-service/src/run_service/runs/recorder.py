"""Appends a run's events to its thread's stream, each with an id derived from run and step.

Events are buffered briefly and appended together: a quick run is one append (its start, code
executions, answer and end), while a long one shows its progress within `flush_after_s`. A crash
before the first append leaves no trace, so the redelivered request simply runs again; after
it, the run is found started and is failed as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from contracts.base import Contract
from contracts.ids import derived_id
from eventkit.envelopes import event_metadata, new_event
from eventkit.store import DuplicateEventError, EventStore, NewEvent

logger = logging.getLogger(__name__)

FLUSH_AFTER_S = 0.25


class RunRecorder:
    """Writes one run's events. A retried append with the same keys is a no-op in the store."""

    def __init__(
        self,
        store: EventStore,
        *,
        thread_id: str,
        run_id: str,
        correlation_id: UUID,
        causation_id: UUID,
        clock: Callable[[], datetime],
        flush_after_s: float = FLUSH_AFTER_S,
    ) -> None:
        self._store = store
        self.thread_id = thread_id
        self.run_id = run_id
        self._correlation_id = correlation_id
        self._causation_id = causation_id
        self.clock = clock
        self.failed = False  # set once the run's `run.failed` is recorded
        self.superseded = False  # set when another process had already ended the run
        self._flush_after_s = flush_after_s
        self._pending: list[NewEvent] = []
        self._appending = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._timed_flush: asyncio.Task[None] | None = None

    def add(self, key: str, event: Contract) -> None:
        """Buffer an event; it is appended at the next flush (at the latest `flush_after_s`)."""
        metadata = event_metadata(
            correlation_id=self._correlation_id,
            causation_id=self._causation_id,
            occurred_at=self.clock(),
        )
        self._pending.append(new_event(derived_id(self.run_id, key), event, metadata))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                self._flush_after_s, self._flush_soon
            )

    async def record(self, *events: tuple[str, Contract]) -> None:
        """Add `(key, event)` pairs (`key` names the step, e.g. `started`) and append now."""
        for key, event in events:
            self.add(key, event)
        await self.flush()

    async def flush(self) -> None:
        """Append everything buffered, in order, in one call."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._appending:
            batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                await self._store.append(self.thread_id, batch, expected_version=None)
            except DuplicateEventError:
                raise  # another process wrote these steps first: retrying cannot succeed
            except BaseException:
                self._pending[:0] = batch  # kept for the next flush, in order
                raise

    @property
    def outcome(self) -> str:
        """How the run ended, as far as this process is concerned (a metrics label)."""
        if self.superseded:
            return "superseded"
        return "failed" if self.failed else "completed"

    async def close(self) -> None:
        """Stop the timer; a timed flush in progress is awaited."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._timed_flush is not None:
            with contextlib.suppress(Exception):
                await self._timed_flush

    def _flush_soon(self) -> None:
        self._timer = None
        self._timed_flush = asyncio.ensure_future(self._flush_logged())

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception:  # the next flush tries again with the same events
            logger.exception("could not append the progress of run %s", self.run_id)
