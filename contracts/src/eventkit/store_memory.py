"""In-memory event store and checkpoints: the shipped adapter for tests and dev."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from eventkit.store import (
    AppendResult,
    ConcurrencyError,
    DuplicateEventError,
    NewEvent,
    StoredEvent,
    check_new_events,
)


class InMemoryEventStore:
    """An EventStore held in lists; appends are serialised by one lock."""

    def __init__(self) -> None:
        self._log: list[StoredEvent] = []
        self._streams: dict[str, list[StoredEvent]] = {}
        self._by_id: dict[UUID, StoredEvent] = {}
        self._lock = asyncio.Lock()

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], *, expected_version: int | None
    ) -> AppendResult:
        check_new_events(events)
        async with self._lock:
            retried = self._retried_batch(stream_id, events)
            if retried is not None:
                return retried
            stream = self._streams.setdefault(stream_id, [])
            current = len(stream) - 1
            if expected_version is not None and expected_version != current:
                raise ConcurrencyError(stream_id, expected_version, current)
            now = datetime.now(UTC)
            for offset, event in enumerate(events):
                stored = StoredEvent(
                    global_position=len(self._log) + 1,
                    stream_id=stream_id,
                    stream_version=current + 1 + offset,
                    event_id=event.event_id,
                    event_type=event.event_type,
                    schema_version=event.schema_version,
                    data=dict(event.data),
                    metadata=dict(event.metadata),
                    recorded_at=now,
                )
                self._log.append(stored)
                stream.append(stored)
                self._by_id[event.event_id] = stored
            last = stream[-1]
            return AppendResult(last.stream_version, last.global_position)

    def _retried_batch(self, stream_id: str, events: Sequence[NewEvent]) -> AppendResult | None:
        found = [self._by_id.get(event.event_id) for event in events]
        if all(stored is None for stored in found):
            return None
        if any(stored is None or stored.stream_id != stream_id for stored in found):
            raise DuplicateEventError(f"event ids already used elsewhere in {stream_id!r}")
        last = max((stored for stored in found if stored), key=lambda s: s.stream_version)
        return AppendResult(last.stream_version, last.global_position)

    async def read_stream(
        self, stream_id: str, *, from_version: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        stream = self._streams.get(stream_id, [])[max(from_version, 0) :]
        return stream if limit is None else stream[:limit]

    async def read_all(
        self, *, after_position: int = 0, limit: int = 1000, category: str | None = None
    ) -> list[StoredEvent]:
        selected: list[StoredEvent] = []
        for stored in self._log[max(after_position, 0) :]:
            if category is None or stored.category == category:
                selected.append(stored)
                if len(selected) >= limit:
                    break
        return selected

    async def head_position(self) -> int:
        return len(self._log)


class InMemoryCheckpointStore:
    """A CheckpointStore in a dict."""

    def __init__(self) -> None:
        self._positions: dict[str, int] = {}

    async def load(self, name: str) -> int:
        return self._positions.get(name, 0)

    async def save(self, name: str, position: int) -> None:
        self._positions[name] = position
