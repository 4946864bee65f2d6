"""Thread streams as decisions need them, kept in memory and topped up with what is new.

Reading a long thread in full for every command costs time in proportion to its length; the
folded state, the last version and which commands caused which events are enough, and only
events after that version need reading.
"""

from collections import OrderedDict
from dataclasses import dataclass, field

from contracts.registry import UnknownMessageType, parse_event
from eventkit.store import EventStore, StoredEvent
from thread_service import domain

CAPACITY = 1024


@dataclass
class ThreadStream:
    """A thread's decision state at `version` (-1: no stream yet)."""

    state: domain.Thread | None = None
    version: int = -1
    # causation id -> (last version, its global position) of the events that command caused
    caused: dict[str, tuple[int, int]] = field(default_factory=dict)

    def apply(self, events: list[StoredEvent]) -> None:
        """Fold in events after `version`."""
        for event in events:
            if event.stream_version <= self.version:
                continue
            try:
                contract = parse_event(event.event_type, dict(event.data))
            except UnknownMessageType:
                contract = None  # written by a newer version; nothing decided here reads it
            if contract is not None:
                self.state = domain.evolve(self.state, contract)
            self.version = event.stream_version
            cause = event.metadata.get("causation_id")
            if cause:
                self.caused[str(cause)] = (event.stream_version, event.global_position)


class ThreadStreams:
    """Recently used thread streams (least recently used dropped beyond the capacity)."""

    def __init__(self, store: EventStore, capacity: int = CAPACITY) -> None:
        self._store = store
        self._capacity = capacity
        self._streams: OrderedDict[str, ThreadStream] = OrderedDict()

    async def read(self, thread_id: str) -> ThreadStream:
        """The thread as the store has it now."""
        stream = self._streams.pop(thread_id, None) or ThreadStream()
        stream.apply(await self._store.read_stream(thread_id, from_version=stream.version + 1))
        self._streams[thread_id] = stream
        while len(self._streams) > self._capacity:
            self._streams.popitem(last=False)
        return stream
