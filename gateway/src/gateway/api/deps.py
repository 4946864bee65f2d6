"""Route dependencies: typed handles on what the composition root put in app.state."""

import re
from typing import Annotated

from fastapi import Depends, Path, Request

from contracts.ids import FILE_ID_PATTERN, THREAD_ID_PATTERN
from eventkit.store import EventStore
from gateway.commands import ThreadCommands
from gateway.conversations import Conversations
from gateway.errors import BadRequest
from gateway.projections.messages import MessagesView
from gateway.projections.projector import MessagesProjector


def get_commands(request: Request) -> ThreadCommands:
    commands: ThreadCommands = request.app.state.commands
    return commands


def get_conversations(request: Request) -> Conversations:
    conversations: Conversations = request.app.state.conversations
    return conversations


def get_view(request: Request) -> MessagesView:
    view: MessagesView = request.app.state.view
    return view


def get_projector(request: Request) -> MessagesProjector:
    projector: MessagesProjector = request.app.state.projector
    return projector


def get_store(request: Request) -> EventStore:
    store: EventStore = request.app.state.store
    return store


def check_id(value: str, pattern: re.Pattern[str], name: str, prefix: str) -> str:
    """`value` if it has the shape `pattern` describes, else a 400 naming the expected shape."""
    if pattern.fullmatch(value) is None:
        shown = value if len(value) <= 80 else value[:80] + "…"
        raise BadRequest(
            f"Malformed {name} {shown!r}: expected '{prefix}' and 1-64 letters or digits"
        )
    return value


def id_schema(pattern: re.Pattern[str]) -> dict[str, str]:
    """The JSON-schema `pattern` of an id (for the docs; the route checks it itself, 400)."""
    return {"pattern": f"^{pattern.pattern}$"}


# The pattern is documented but not enforced by FastAPI (that would answer 422): check_id
# refuses a malformed id with 400, as the spec's clients expect.
ThreadIdPath = Annotated[
    str,
    Path(
        description="`thread_` and 1-64 letters or digits; any other shape answers 400",
        examples=["thread_abc123"],
        json_schema_extra=id_schema(THREAD_ID_PATTERN),
    ),
]
FileIdPath = Annotated[
    str,
    Path(
        description="`file-` and 1-64 letters or digits; any other shape answers 400",
        examples=["file-abc123"],
        json_schema_extra=id_schema(FILE_ID_PATTERN),
    ),
]


def valid_thread_id(thread_id: ThreadIdPath) -> str:
    """The path's thread id, refused with 400 unless it has the shape of one."""
    return check_id(thread_id, THREAD_ID_PATTERN, "thread_id", "thread_")


def valid_file_id(file_id: FileIdPath) -> str:
    """The path's file id, refused with 400 unless it has the shape of one."""
    return check_id(file_id, FILE_ID_PATTERN, "file_id", "file-")


CommandsDep = Annotated[ThreadCommands, Depends(get_commands)]
ConversationsDep = Annotated[Conversations, Depends(get_conversations)]
ViewDep = Annotated[MessagesView, Depends(get_view)]
ProjectorDep = Annotated[MessagesProjector, Depends(get_projector)]
StoreDep = Annotated[EventStore, Depends(get_store)]
ThreadIdDep = Annotated[str, Depends(valid_thread_id)]
FileIdDep = Annotated[str, Depends(valid_file_id)]
