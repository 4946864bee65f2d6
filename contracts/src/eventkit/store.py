"""The event store port: append-only streams, optimistic concurrency, a global log."""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

NO_STREAM = -1
"""Expected version of a stream that must not exist yet."""


def category_of(stream_id: str) -> str:
    """The category of a stream: its id up to the first `_` or `-` (`thread_ab` -> `thread`)."""
    for index, char in enumerate(stream_id):
        if char in "_-":
            return stream_id[:index]
    return stream_id


@dataclass(frozen=True)
class NewEvent:
    """An event to append. `event_id` makes a retried append idempotent."""

    event_id: UUID
    event_type: str
    data: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = 1


@dataclass(frozen=True)
class StoredEvent:
    """An event as committed: its stream version (from 0) and global position (from 1)."""

    global_position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    event_type: str
    schema_version: int
    data: Mapping[str, Any]
    metadata: Mapping[str, Any]
    recorded_at: datetime

    @property
    def category(self) -> str:
        """The stream's category."""
        return category_of(self.stream_id)


@dataclass(frozen=True)
class AppendResult:
    """Where an append left the stream: its last version and the last event's position."""

    stream_version: int
    global_position: int


class EventStoreError(Exception):
    """Base class of event-store failures."""


class ConcurrencyError(EventStoreError):
    """The stream was not at the expected version."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id!r} is at version {actual}, expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEventError(EventStoreError):
    """An event id is already used, and the append is not a retry of the same batch."""


def check_new_events(events: Sequence[NewEvent]) -> None:
    """Refuse a batch every adapter must refuse: empty, an id twice, or unstorable JSON.

    Unstorable: NaN or infinities (not JSON) and NUL characters (PostgreSQL's jsonb has none).
    """
    if not events:
        raise ValueError("append needs at least one event")
    if len({event.event_id for event in events}) != len(events):
        raise DuplicateEventError("an event id appears twice in one batch")
    for event in events:
        check_storable_json(event.data)
        check_storable_json(event.metadata)


def check_storable_json(value: object) -> str:
    """`value` as JSON text, or EventStoreError if it cannot be stored as JSON everywhere."""
    try:
        text = json.dumps(value, allow_nan=False, default=_mapping_as_dict)
    except (ValueError, TypeError) as error:
        raise EventStoreError(f"event payload is not storable JSON: {error}") from None
    if has_escaped_nul(text):
        raise EventStoreError("event payload contains a NUL character, which cannot be stored")
    return text


# `\u0000` preceded by an even number of backslashes is an escaped NUL; after an odd number it
# is the text "\u0000" a user typed.
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def has_escaped_nul(json_text: str) -> bool:
    """Whether JSON text encodes a NUL character."""
    return "\\u0000" in json_text and _ESCAPED_NUL.search(json_text) is not None


def _mapping_as_dict(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class EventStore(Protocol):
    """Append-only event streams with a global, gap-free-for-readers log."""

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], *, expected_version: int | None
    ) -> AppendResult:
        """Append atomically; `expected_version` None skips the check, NO_STREAM wants a new one.

        Raises ConcurrencyError on a stale version. Re-appending a batch whose events are already
        in this stream returns the stored result instead (idempotent retry).
        """
        ...

    async def read_stream(
        self, stream_id: str, *, from_version: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """Events of one stream in version order, starting at `from_version`."""
        ...

    async def read_all(
        self, *, after_position: int = 0, limit: int = 1000, category: str | None = None
    ) -> list[StoredEvent]:
        """Events after a global position, in position order; optionally of one category.

        A reader that pages through with the last position it saw never skips an event, however
        concurrent appends commit.
        """
        ...

    async def head_position(self) -> int:
        """The highest committed global position (0 when empty)."""
        ...


class CheckpointStore(Protocol):
    """Durable positions of subscribers such as the relay."""

    async def load(self, name: str) -> int:
        """The saved position of `name` (0 if it never saved one)."""
        ...

    async def save(self, name: str, position: int) -> None:
        """Record that `name` has handled everything up to `position`."""
        ...
