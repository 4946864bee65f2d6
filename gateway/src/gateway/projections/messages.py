"""The messages read model: its rows, its port, and the pure event -> row mapping."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from contracts.registry import parse_event
from contracts.runs import AssistantMessagePosted
from contracts.threads import ThreadCreated, UserMessagePosted
from eventkit.store import StoredEvent

NOT_PROJECTED = -1
"""Version of a thread the view has not seen."""


@dataclass(frozen=True)
class ThreadRow:
    """A thread as the API shows it; `version` is the last stream version applied."""

    thread_id: str
    created_at: int
    version: int


@dataclass(frozen=True)
class MessageRow:
    """One message as `GET /api/thread/{id}/messages` shows it."""

    id: str
    thread_id: str
    version: int
    role: str
    content: str
    created_at: int
    annotations: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ViewDump:
    """Everything in the view, in a canonical order: what replay compares."""

    threads: tuple[ThreadRow, ...] = ()
    messages: tuple[MessageRow, ...] = field(default=())


class ProjectionGap(Exception):
    """Events handed to `apply` do not continue the version the view holds."""


class MessagesView(Protocol):
    """Storage of the messages read model."""

    async def version_of(self, thread_id: str) -> int:
        """The last stream version applied for `thread_id` (NOT_PROJECTED if none)."""
        ...

    async def apply(self, thread_id: str, events: Sequence[StoredEvent]) -> None:
        """Apply a thread's events in order, skipping those already applied.

        Raises ProjectionGap if the first new event does not follow the applied version.
        """
        ...

    async def thread(self, thread_id: str) -> ThreadRow | None:
        """The thread, if projected."""
        ...

    async def messages(self, thread_id: str) -> list[MessageRow]:
        """The thread's messages, oldest first."""
        ...

    async def dump(self) -> ViewDump:
        """Every row, sorted by thread id then version."""
        ...

    async def replace_all(self, dump: ViewDump) -> None:
        """Make the view hold exactly `dump` (used by replay to swap in a rebuild)."""
        ...


def unix_seconds(moment: datetime) -> int:
    """Unix time in whole seconds, as the spec's `created_at`."""
    return int(moment.timestamp())


def new_events(current: int, events: Sequence[StoredEvent]) -> list[StoredEvent]:
    """The events after `current`, checked to continue it without a gap."""
    fresh = [event for event in events if event.stream_version > current]
    for expected, event in enumerate(fresh, start=current + 1):
        if event.stream_version != expected:
            raise ProjectionGap(
                f"{event.stream_id}: got version {event.stream_version}, expected {expected}"
            )
    return fresh


def row_for(event: StoredEvent) -> ThreadRow | MessageRow | None:
    """What one event adds to the view (None for events the view ignores)."""
    contract = parse_event(event.event_type, dict(event.data))
    match contract:
        case ThreadCreated():
            return ThreadRow(contract.thread_id, unix_seconds(contract.created_at), 0)
        case UserMessagePosted():
            return MessageRow(
                id=contract.message_id,
                thread_id=contract.thread_id,
                version=event.stream_version,
                role="user",
                content=contract.content,
                created_at=unix_seconds(contract.created_at),
            )
        case AssistantMessagePosted():
            return MessageRow(
                id=contract.message_id,
                thread_id=contract.thread_id,
                version=event.stream_version,
                role="assistant",
                content=contract.content,
                created_at=unix_seconds(contract.created_at),
                annotations=tuple(a.model_dump(mode="json") for a in contract.annotations),
            )
    return None
