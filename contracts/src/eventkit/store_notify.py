"""An EventStore decorator that calls back after each committed append (wakes the relay)."""

from collections.abc import Callable, Sequence

from eventkit.store import AppendResult, EventStore, NewEvent, StoredEvent


class NotifyingEventStore:
    """Delegates to `inner`; `on_append` runs once an append has committed.

    In one process this replaces the relay's polling delay with an immediate wake-up.
    """

    def __init__(self, inner: EventStore, on_append: Callable[[], None]) -> None:
        self._inner = inner
        self._on_append = on_append

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], *, expected_version: int | None
    ) -> AppendResult:
        result = await self._inner.append(stream_id, events, expected_version=expected_version)
        self._on_append()
        return result

    async def read_stream(
        self, stream_id: str, *, from_version: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        return await self._inner.read_stream(stream_id, from_version=from_version, limit=limit)

    async def read_all(
        self, *, after_position: int = 0, limit: int = 1000, category: str | None = None
    ) -> list[StoredEvent]:
        return await self._inner.read_all(
            after_position=after_position, limit=limit, category=category
        )

    async def head_position(self) -> int:
        return await self._inner.head_position()
