"""Request and response bodies of the HTTP API (spec/API.md), as the OpenAPI docs show them."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.runs import MAX_ATTACHED_FILES
from contracts.threads import MAX_MESSAGE_CHARS


class ErrorResponse(BaseModel):
    """Every error: a human-readable explanation (always a string, validation errors too)."""

    detail: str


UNEXPECTED = "An unexpected fault; `detail` has a reference that is also in the server's log"
THREAD_SERVICE_DOWN = "thread-service is unavailable"
THREAD_SERVICE_SLOW = "thread-service did not answer in time"
FILE_SERVICE_ERRORS: dict[int, str] = {
    502: "file-service failed",
    503: "file-service is unavailable",
    504: "file-service did not answer in time",
}


def error_responses(descriptions: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status it can answer besides 200, as ErrorResponse."""
    return {
        status: {"model": ErrorResponse, "description": description}
        for status, description in sorted(descriptions.items())
    }


class RootResponse(BaseModel):
    message: str


class ThreadCreatedResponse(BaseModel):
    thread_id: str = Field(examples=["thread_abc123"])
    status: Literal["created"] = "created"


class MessageFileOut(BaseModel):
    """An image a run generated, shown with the answer."""

    file_id: str = Field(examples=["file-abc123"])
    type: Literal["image_file"] = "image_file"


class FilePathAnnotationOut(BaseModel):
    """A file a run generated, by its name in /mnt/data; download it with its `file_id`."""

    type: Literal["file_path"] = "file_path"
    file_id: str = Field(examples=["file-abc123"])
    text: str = Field(description="The file's name in /mnt/data", examples=["sales_chart.png"])


class MessageOut(BaseModel):
    id: str = Field(examples=["msg_abc123"])
    role: Literal["user", "assistant"]
    content: str
    annotations: list[FilePathAnnotationOut] = Field(
        description="The files the run that wrote this message generated (assistant messages)"
    )
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
    trace: dict[str, str] = Field(
        default_factory=dict, description="W3C trace context the event was written in"
    )
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


FILE_IDS_HELP = "Uploaded files to put in /mnt/data for this and later runs of the thread"


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    thread_id: str | None = Field(default=None, description="Omit to start a new thread")
    use_code_interpreter: bool = True
    file_ids: list[str] = Field(
        default_factory=list, max_length=MAX_ATTACHED_FILES, description=FILE_IDS_HELP
    )


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    file_ids: list[str] = Field(
        default_factory=list, max_length=MAX_ATTACHED_FILES, description=FILE_IDS_HELP
    )
    thread_id: str | None = Field(default=None, description="Omit to start a new thread")


class ChatResponse(BaseModel):
    thread_id: str = Field(examples=["thread_abc123"])
    message: str = Field(
        description="The answer, with what the code printed and its errors",
        examples=["**The code**\n\n```python\nprint(1 + 1)\n```\n\nOutput:\n```\n2\n```"],
    )
    files: list[MessageFileOut] = Field(description="Images the run generated")
    annotations: list[FilePathAnnotationOut] = Field(description="Every file the run generated")
    run_id: str = Field(
        description="The run; its steps are in the thread's events (extension)",
        examples=["run_abc123"],
    )
