"""Commit signals: callbacks run whenever events were committed (wake the relay, waiters).

In one process an EventStore decorator fires them after each append; across processes a
PostgreSQL `LISTEN cie_events` connection does (see `eventkit.pg_listen`).
"""

from collections.abc import Callable, Sequence

from eventkit.store import AppendResult, EventStore, NewEvent, StoredEvent


class CommitSignals:
    """A fan-out of "something was committed" to every registered callback."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` (quick, synchronous) on every commit from now on."""
        self._callbacks.append(callback)

    def fire(self) -> None:
        """Tell every subscriber that events were committed."""
        for callback in self._callbacks:
            callback()


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
