"""Route dependencies: typed handles on what the composition root put in app.state."""

from typing import Annotated

from fastapi import Depends, Path, Request

from contracts.ids import THREAD_ID_PATTERN
from eventkit.store import EventStore
from gateway.commands import ThreadCommands
from gateway.errors import BadRequest
from gateway.projections.messages import MessagesView
from gateway.projections.projector import MessagesProjector


def get_commands(request: Request) -> ThreadCommands:
    commands: ThreadCommands = request.app.state.commands
    return commands


def get_view(request: Request) -> MessagesView:
    view: MessagesView = request.app.state.view
    return view


def get_projector(request: Request) -> MessagesProjector:
    projector: MessagesProjector = request.app.state.projector
    return projector


def get_store(request: Request) -> EventStore:
    store: EventStore = request.app.state.store
    return store


def valid_thread_id(thread_id: Annotated[str, Path(description="`thread_…`")]) -> str:
    """The path's thread id, refused with 400 unless it has the shape of one."""
    if THREAD_ID_PATTERN.fullmatch(thread_id) is None:
        shown = thread_id if len(thread_id) <= 80 else thread_id[:80] + "…"
        raise BadRequest(
            f"Malformed thread_id {shown!r}: expected 'thread_' and 1-64 letters or digits"
        )
    return thread_id


CommandsDep = Annotated[ThreadCommands, Depends(get_commands)]
ViewDep = Annotated[MessagesView, Depends(get_view)]
ProjectorDep = Annotated[MessagesProjector, Depends(get_projector)]
StoreDep = Annotated[EventStore, Depends(get_store)]
ThreadIdDep = Annotated[str, Depends(valid_thread_id)]
