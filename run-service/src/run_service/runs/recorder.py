"""Appends a run's events to its thread's stream, each with an id derived from run and step."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from contracts.base import Contract
from contracts.ids import derived_id
from eventkit.envelopes import event_metadata, new_event
from eventkit.store import AppendResult, EventStore

logger = logging.getLogger(__name__)


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
    ) -> None:
        self._store = store
        self.thread_id = thread_id
        self.run_id = run_id
        self._correlation_id = correlation_id
        self._causation_id = causation_id
        self.clock = clock
        self.failed = False  # set once the run's `run.failed` is recorded

    async def record(
        self, *events: tuple[str, Contract], expected_version: int | None = None
    ) -> AppendResult:
        """Append `(key, event)` pairs atomically; `key` names the step (e.g. `started`)."""
        metadata = event_metadata(
            correlation_id=self._correlation_id,
            causation_id=self._causation_id,
            occurred_at=self.clock(),
        )
        new = [new_event(derived_id(self.run_id, key), event, metadata) for key, event in events]
        return await self._store.append(self.thread_id, new, expected_version=expected_version)
