"""Keeps the messages view up to date from the event store.

The bus only says "this thread changed"; the store is the source of truth, so the projector
reads the thread's missing events from it. Duplicate or reordered deliveries therefore cost
a read, never a wrong row.
"""

from contracts.envelope import Envelope
from eventkit.store import EventStore, category_of
from gateway.projections.messages import MessagesView, ProjectionGap

THREAD_CATEGORY = "thread"
MAX_GAP_RETRIES = 3
KNOWN_THREADS = 10_000


class MessagesProjector:
    """Applies thread events to the messages view."""

    def __init__(self, store: EventStore, view: MessagesView) -> None:
        self._store = store
        self._view = view
        # A lower bound of each recent thread's applied version: a duplicate or late
        # delivery is answered without a database round trip.
        self._known: dict[str, int] = {}

    async def on_event(self, event: Envelope) -> None:
        """Bus handler: bring the event's thread up to at least the event's version."""
        if category_of(event.stream_id) == THREAD_CATEGORY:
            await self.catch_up(event.stream_id, until_version=event.stream_version)

    async def catch_up(self, thread_id: str, *, until_version: int | None = None) -> None:
        """Apply whatever the view lacks of the thread's stream."""
        if until_version is not None and self._known.get(thread_id, -1) >= until_version:
            return
        for _ in range(MAX_GAP_RETRIES):
            current = await self._view.version_of(thread_id)
            if until_version is not None and current >= until_version:
                self._remember(thread_id, current)
                return
            missing = await self._store.read_stream(thread_id, from_version=current + 1)
            if not missing:  # nothing to apply: no write transaction (an unknown id, say)
                return
            try:
                await self._view.apply(thread_id, missing)
            except ProjectionGap:
                continue  # another applier moved the view meanwhile; look again
            self._remember(thread_id, missing[-1].stream_version)
            return
        raise ProjectionGap(f"{thread_id}: the view kept moving while catching up")

    def _remember(self, thread_id: str, version: int) -> None:
        if len(self._known) >= KNOWN_THREADS and thread_id not in self._known:
            self._known.clear()  # a cache, not a record: start over rather than grow
        self._known[thread_id] = max(version, self._known.get(thread_id, -1))
