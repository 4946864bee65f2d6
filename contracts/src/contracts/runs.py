"""Run commands and events: asking the assistant to answer, and everything the run did.

Every run event lives in its thread's stream (`thread_…`), so one stream is the whole
conversation, in order, for audit and replay. thread-service appends `RunRequested` (with the
user's message, if any); run-service appends the rest.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from contracts.base import Contract
from contracts.files import FileId
from contracts.ids import FILE_ID_PATTERN, MESSAGE_ID_PATTERN, RUN_ID_PATTERN
from contracts.threads import MAX_MESSAGE_CHARS, MessageId, ThreadId

RunId = Field(pattern=RUN_ID_PATTERN.pattern, description="`run_…`")
OptionalMessageId = Annotated[str, Field(pattern=MESSAGE_ID_PATTERN.pattern)] | None
AttachedFileIds = tuple[Annotated[str, Field(pattern=FILE_ID_PATTERN.pattern)], ...]

MAX_ATTACHED_FILES = 20

RunKind = Literal["chat", "analyze", "example"]
"""chat: answer a message; analyze: study attached files; example: a built-in program."""

ExampleName = Literal["data-analysis", "math-computation", "image-generation"]


class RequestRun(Contract):
    """Ask for a run on a thread, optionally posting the user's message with it."""

    type: Literal["thread.request_run"] = "thread.request_run"
    thread_id: str = ThreadId
    run_id: str = RunId
    kind: RunKind = "chat"
    message_id: OptionalMessageId = Field(default=None, description="Posts `content` if set")
    content: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    example: ExampleName | None = None
    file_ids: AttachedFileIds = Field(default=(), max_length=MAX_ATTACHED_FILES)
    use_code_interpreter: bool = True


class RunRequested(Contract):
    """A run was asked for; runs of one thread execute one at a time in this order."""

    type: Literal["run.requested"] = "run.requested"
    thread_id: str = ThreadId
    run_id: str = RunId
    kind: RunKind = "chat"
    message_id: OptionalMessageId = Field(default=None, description="The user message it answers")
    example: ExampleName | None = None
    file_ids: AttachedFileIds = ()
    use_code_interpreter: bool = True
    requested_at: datetime


class RunStarted(Contract):
    """run-service took the run: which engine thinks and how code is isolated."""

    type: Literal["run.started"] = "run.started"
    thread_id: str = ThreadId
    run_id: str = RunId
    engine: str = Field(description="e.g. `openai:gpt-4o-mini`, `no-model`, `program:analyze`")
    isolation: str = Field(description="The sandbox's isolation level")
    started_at: datetime


class CodeError(Contract):
    """An exception the executed code raised."""

    type: str
    message: str
    traceback: str = ""


class CodeExecuted(Contract):
    """One piece of code ran in the thread's Python session."""

    type: Literal["run.code_executed"] = "run.code_executed"
    thread_id: str = ThreadId
    run_id: str = RunId
    step: int = Field(ge=0)
    code: str
    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    error: CodeError | None = None
    duration_ms: float = Field(ge=0)
    files: tuple[str, ...] = Field(default=(), description="Written or changed, under /mnt/data")
    state_lost: bool = False
    notice: str | None = None


class MessageFile(Contract):
    """A file shown with a message (the spec's `files` entry)."""

    file_id: str = FileId
    type: Literal["image_file"] = "image_file"


class FilePathAnnotation(Contract):
    """The spec's `file_path` annotation: a generated file, by its name in /mnt/data."""

    type: Literal["file_path"] = "file_path"
    file_id: str = FileId
    text: str


class AssistantMessagePosted(Contract):
    """The assistant's answer to a run."""

    type: Literal["thread.assistant_message_posted"] = "thread.assistant_message_posted"
    thread_id: str = ThreadId
    run_id: str = RunId
    message_id: str = MessageId
    content: str
    files: tuple[MessageFile, ...] = ()
    annotations: tuple[FilePathAnnotation, ...] = ()
    created_at: datetime


class RunCompleted(Contract):
    """The run finished and its answer is posted."""

    type: Literal["run.completed"] = "run.completed"
    thread_id: str = ThreadId
    run_id: str = RunId
    message_id: str = MessageId
    steps: int = Field(ge=0)
    completed_at: datetime


class RunFailed(Contract):
    """The run ended without an answer, for `reason`."""

    type: Literal["run.failed"] = "run.failed"
    thread_id: str = ThreadId
    run_id: str = RunId
    reason: str
    failed_at: datetime


TERMINAL_RUN_EVENTS = ("run.completed", "run.failed")
