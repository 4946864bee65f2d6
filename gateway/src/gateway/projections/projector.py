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


class MessagesProjector:
    """Applies thread events to the messages view."""

    def __init__(self, store: EventStore, view: MessagesView) -> None:
        self._store = store
        self._view = view

    async def on_event(self, event: Envelope) -> None:
        """Bus handler: bring the event's thread up to at least the event's version."""
        if category_of(event.stream_id) == THREAD_CATEGORY:
            await self.catch_up(event.stream_id, until_version=event.stream_version)

    async def catch_up(self, thread_id: str, *, until_version: int | None = None) -> None:
        """Apply whatever the view lacks of the thread's stream."""
        for _ in range(MAX_GAP_RETRIES):
            current = await self._view.version_of(thread_id)
            if until_version is not None and current >= until_version:
                return
            missing = await self._store.read_stream(thread_id, from_version=current + 1)
            if not missing:  # nothing to apply: no write transaction (an unknown id, say)
                return
            try:
                await self._view.apply(thread_id, missing)
                return
            except ProjectionGap:
                continue  # another applier moved the view meanwhile; look again
        raise ProjectionGap(f"{thread_id}: the view kept moving while catching up")
