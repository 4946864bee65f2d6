"""Request and response bodies of the HTTP API (spec/API.md), as the OpenAPI docs show them."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.threads import MAX_MESSAGE_CHARS


class ErrorResponse(BaseModel):
    """Every error: a human-readable explanation."""

    detail: str


class RootResponse(BaseModel):
    message: str


class ThreadCreatedResponse(BaseModel):
    thread_id: str = Field(examples=["thread_abc123"])
    status: Literal["created"] = "created"


class MessageOut(BaseModel):
    id: str = Field(examples=["msg_abc123"])
    role: Literal["user", "assistant"]
    content: str
    annotations: list[dict[str, Any]]
    created_at: int = Field(description="Unix time in seconds")


class MessagesResponse(BaseModel):
    messages: list[MessageOut] = Field(description="Oldest first")


class PostMessageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class PostedMessageResponse(MessageOut):
    thread_id: str


class EventOut(BaseModel):
    event_id: UUID
    type: str
    version: int = Field(description="Version in the thread's stream, from 0")
    position: int = Field(description="Position in the global event log")
    time: datetime = Field(description="When the event was recorded (UTC)")
    correlation_id: str | None
    causation_id: str | None
    payload: dict[str, Any]


class EventsResponse(BaseModel):
    thread_id: str
    events: list[EventOut]
    next_from_version: int | None = Field(
        description="Pass as `from_version` for the next page; null when there is none"
    )


class UploadResponse(BaseModel):
    file_id: str = Field(examples=["file-abc123"])
    filename: str = Field(description="The sanitised original name")
    status: Literal["uploaded"] = "uploaded"


class FileOrigin(BaseModel):
    kind: Literal["uploaded", "generated"]
    run_id: str | None = None
    thread_id: str | None = None


class FileMeta(BaseModel):
    file_id: str
    filename: str
    size: int
    sha256: str
    media_type: str
    created_at: int = Field(description="Unix time in seconds")
    origin: FileOrigin
    profile: dict[str, Any] | None = Field(
        default=None, description="Tables: columns, types, rows, samples. PDF: pages, first text"
    )
