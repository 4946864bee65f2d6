"""The thread aggregate: pure functions from state and command to events. No I/O, no clock."""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from contracts.threads import (
    CreateThread,
    PostUserMessage,
    ThreadCreated,
    ThreadEvent,
    UserMessagePosted,
)
from thread_service.errors import ThreadAlreadyExists, ThreadNotFound


@dataclass(frozen=True)
class Thread:
    """What decisions about a thread need to know."""

    thread_id: str
    created_at: datetime
    message_count: int = 0


def evolve(state: Thread | None, event: ThreadEvent) -> Thread:
    """The state after one event."""
    match event:
        case ThreadCreated():
            return Thread(thread_id=event.thread_id, created_at=event.created_at)
        case UserMessagePosted() if state is not None:
            return replace(state, message_count=state.message_count + 1)
    raise ValueError(f"{event.type} cannot follow state {state!r}")


def fold(events: Iterable[ThreadEvent]) -> Thread | None:
    """The state after a stream's events (None for a stream that does not exist)."""
    state: Thread | None = None
    for event in events:
        state = evolve(state, event)
    return state


def create_thread(
    state: Thread | None, command: CreateThread, *, now: datetime
) -> list[ThreadEvent]:
    """Open a thread; refused if the id is taken."""
    if state is not None:
        raise ThreadAlreadyExists(command.thread_id)
    return [ThreadCreated(thread_id=command.thread_id, created_at=now)]


def post_user_message(
    state: Thread | None, command: PostUserMessage, *, now: datetime
) -> list[ThreadEvent]:
    """Record a user's message; refused if the thread does not exist."""
    if state is None:
        raise ThreadNotFound(command.thread_id)
    return [
        UserMessagePosted(
            thread_id=command.thread_id,
            message_id=command.message_id,
            content=command.content,
            file_ids=command.file_ids,
            created_at=now,
        )
    ]
