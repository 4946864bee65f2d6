"""Thread routes: create, list messages, post a message (ours), audit events (ours)."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from gateway.api.deps import CommandsDep, ProjectorDep, StoreDep, ThreadIdDep, ViewDep
from gateway.api.schemas import (
    THREAD_SERVICE_DOWN,
    THREAD_SERVICE_SLOW,
    UNEXPECTED,
    EventOut,
    EventsResponse,
    FilePathAnnotationOut,
    MessageOut,
    MessagesResponse,
    PostedMessageResponse,
    PostMessageRequest,
    ThreadCreatedResponse,
    error_responses,
)
from gateway.errors import BadRequest, GatewayError, NotFound
from gateway.projections.messages import MessageRow, MessagesView, ThreadRow
from gateway.projections.projector import MessagesProjector

router = APIRouter(prefix="/api/thread", tags=["threads"])

MALFORMED_ID = "Malformed thread id"
UNKNOWN = "Unknown thread"

THREAD_LINKS = {
    name: {"operationId": name, "parameters": {"thread_id": "$response.body#/thread_id"}}
    for name in ("list_messages", "post_message", "list_events")
}
"""What a client can do next with the `thread_id` of an answer (OpenAPI links)."""


POST_MESSAGE_EXAMPLES: dict[str, Any] = {
    "note": {
        "summary": "A message for the record",
        "description": "Stored in the thread as is; the assistant does not answer it.",
        "value": {"content": "hello"},
    }
}


async def _existing_thread(
    thread_id: str, view: MessagesView, projector: MessagesProjector
) -> ThreadRow:
    thread = await view.thread(thread_id)
    if thread is None:  # maybe written elsewhere and not yet projected: look in the store
        await projector.catch_up(thread_id)
        thread = await view.thread(thread_id)
    if thread is None:
        raise NotFound(f"Thread {thread_id} not found")
    return thread


def _message_out(row: MessageRow) -> MessageOut:
    return MessageOut(
        id=row.id,
        role="assistant" if row.role == "assistant" else "user",
        content=row.content,
        annotations=[FilePathAnnotationOut.model_validate(item) for item in row.annotations],
        created_at=row.created_at,
    )


@router.post(
    "/create",
    response_model=ThreadCreatedResponse,
    responses={
        200: {"links": THREAD_LINKS},
        **error_responses({500: UNEXPECTED, 503: THREAD_SERVICE_DOWN, 504: THREAD_SERVICE_SLOW}),
    },
    summary="Create a thread",
)
async def create_thread(commands: CommandsDep) -> ThreadCreatedResponse:
    return ThreadCreatedResponse(thread_id=await commands.create_thread())


@router.get(
    "/{thread_id}/messages",
    response_model=MessagesResponse,
    responses=error_responses({400: MALFORMED_ID, 404: UNKNOWN, 500: UNEXPECTED}),
    summary="All messages of a thread, oldest first",
)
async def list_messages(thread_id: ThreadIdDep, view: ViewDep, projector: ProjectorDep) -> Response:
    rows = await view.messages(thread_id)
    if not rows:  # an empty thread, or none at all
        await _existing_thread(thread_id, view, projector)
    # The hot read path: rows straight to JSON, without building and re-validating models
    # (MessagesResponse still documents the shape; tests check it).
    return Response(content=_messages_json(rows), media_type="application/json")


def _messages_json(rows: list[MessageRow]) -> bytes:
    return json.dumps(
        {
            "messages": [
                {
                    "id": row.id,
                    "role": row.role,
                    "content": row.content,
                    "annotations": list(row.annotations),
                    "created_at": row.created_at,
                }
                for row in rows
            ]
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


@router.post(
    "/{thread_id}/messages",
    response_model=PostedMessageResponse,
    responses=error_responses(
        {
            400: f"{MALFORMED_ID}, malformed JSON, or NUL in `content`",
            404: UNKNOWN,
            409: "The thread is changing too fast; try again",
            413: "Body over the size limit",
            422: "Wrong types or fields; `detail` says which",
            500: UNEXPECTED,
            503: THREAD_SERVICE_DOWN,
            504: THREAD_SERVICE_SLOW,
        }
    ),
    summary="Add a user message without running the assistant (extension)",
)
async def post_message(
    thread_id: ThreadIdDep,
    body: Annotated[PostMessageRequest, Body(openapi_examples=POST_MESSAGE_EXAMPLES)],
    commands: CommandsDep,
    view: ViewDep,
) -> PostedMessageResponse:
    if "\x00" in body.content:
        raise BadRequest("content must not contain NUL characters")
    message_id = await commands.post_user_message(thread_id, body.content)
    rows = {row.id: row for row in await view.messages(thread_id)}
    if message_id not in rows:  # catch_up guarantees it; a miss is a server fault
        raise GatewayError(f"Message {message_id} was stored but is not readable yet")
    return PostedMessageResponse(thread_id=thread_id, **_message_out(rows[message_id]).model_dump())


@router.get(
    "/{thread_id}/events",
    response_model=EventsResponse,
    responses=error_responses(
        {
            400: MALFORMED_ID,
            404: UNKNOWN,
            422: "`from_version` or `limit` out of range",
            500: UNEXPECTED,
        }
    ),
    summary="The thread's raw event history, for audit (extension)",
)
async def list_events(
    thread_id: ThreadIdDep,
    store: StoreDep,
    from_version: Annotated[int, Query(ge=0, description="First stream version to return")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size")] = 100,
) -> EventsResponse:
    events = await store.read_stream(thread_id, from_version=from_version, limit=limit + 1)
    if not events and from_version == 0:
        raise NotFound(f"Thread {thread_id} not found")
    page = events[:limit]
    return EventsResponse(
        thread_id=thread_id,
        events=[
            EventOut(
                event_id=event.event_id,
                type=event.event_type,
                version=event.stream_version,
                position=event.global_position,
                time=event.recorded_at,
                correlation_id=event.metadata.get("correlation_id"),
                causation_id=event.metadata.get("causation_id"),
                trace=dict(event.metadata.get("trace") or {}),
                payload=dict(event.data),
            )
            for event in page
        ],
        next_from_version=events[limit].stream_version if len(events) > limit else None,
    )
