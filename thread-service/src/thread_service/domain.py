"""The thread aggregate: pure functions from state and command to events. No I/O, no clock."""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from contracts.base import Contract
from contracts.runs import RequestRun, RunRequested
from contracts.threads import (
    CreateThread,
    PostUserMessage,
    ThreadCreated,
    UserMessagePosted,
)
from thread_service.errors import InvalidCommand, ThreadAlreadyExists, ThreadNotFound


@dataclass(frozen=True)
class Thread:
    """What decisions about a thread need to know."""

    thread_id: str
    created_at: datetime
    message_count: int = 0


def evolve(state: Thread | None, event: Contract) -> Thread:
    """The state after one event (run-service's run events change nothing decided here)."""
    match event:
        case ThreadCreated():
            return Thread(thread_id=event.thread_id, created_at=event.created_at)
        case UserMessagePosted() if state is not None:
            return replace(state, message_count=state.message_count + 1)
        case _ if state is not None:
            return state
    raise ValueError(f"{event.model_dump().get('type')} cannot start a thread")


def fold(events: Iterable[Contract]) -> Thread | None:
    """The state after a stream's events (None for a stream that does not exist)."""
    state: Thread | None = None
    for event in events:
        state = evolve(state, event)
    return state


def create_thread(state: Thread | None, command: CreateThread, *, now: datetime) -> list[Contract]:
    """Open a thread; refused if the id is taken."""
    if state is not None:
        raise ThreadAlreadyExists(command.thread_id)
    return [ThreadCreated(thread_id=command.thread_id, created_at=now)]


def post_user_message(
    state: Thread | None, command: PostUserMessage, *, now: datetime
) -> list[Contract]:
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


def request_run(state: Thread | None, command: RequestRun, *, now: datetime) -> list[Contract]:
    """Post the user's message, if any, and ask for a run answering it."""
    if state is None:
        raise ThreadNotFound(command.thread_id)
    if (command.content is None) != (command.message_id is None):
        raise InvalidCommand("content and message_id go together: give both or neither")
    if (command.kind == "example") != (command.example is not None):
        raise InvalidCommand("an example run names its example, and only an example run does")
    if command.kind == "chat" and command.content is None:
        raise InvalidCommand("a chat run needs the user's message")
    events: list[Contract] = []
    if command.content is not None and command.message_id is not None:
        events.append(
            UserMessagePosted(
                thread_id=command.thread_id,
                message_id=command.message_id,
                content=command.content,
                file_ids=command.file_ids,
                created_at=now,
            )
        )
    events.append(
        RunRequested(
            thread_id=command.thread_id,
            run_id=command.run_id,
            kind=command.kind,
            message_id=command.message_id,
            example=command.example,
            file_ids=command.file_ids,
            use_code_interpreter=command.use_code_interpreter,
            requested_at=now,
        )
    )
    return events
