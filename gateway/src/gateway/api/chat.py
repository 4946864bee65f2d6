"""Chat and analysis routes: a message (or prompt and files) in, the run's answer out."""

from fastapi import APIRouter

from contracts.ids import FILE_ID_PATTERN, THREAD_ID_PATTERN
from gateway.api.deps import ConversationsDep, check_id
from gateway.api.schemas import (
    AnalyzeRequest,
    ChatRequest,
    ChatResponse,
    ErrorResponse,
    FilePathAnnotationOut,
    MessageFileOut,
)
from gateway.conversations import Answer
from gateway.errors import BadRequest

router = APIRouter(prefix="/api", tags=["chat"])

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse, "description": "Malformed thread or file id, NUL in the text"},
    404: {"model": ErrorResponse, "description": "Unknown thread or file"},
    500: {"model": ErrorResponse, "description": "The run failed; `detail` says why"},
    504: {"model": ErrorResponse, "description": "The run did not end in time"},
}


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses=ERRORS,
    summary="Send a message; the assistant answers, running Python in the thread's sandbox",
)
async def chat(body: ChatRequest, conversations: ConversationsDep) -> ChatResponse:
    answer = await conversations.ask(
        _thread_id(body.thread_id),
        kind="chat",
        content=_text(body.message, "message"),
        file_ids=_file_ids(body.file_ids),
        use_code_interpreter=body.use_code_interpreter,
    )
    return chat_response(answer)


@router.post(
    "/analyze",
    response_model=ChatResponse,
    responses=ERRORS,
    summary="Analyze uploaded files (built-in analysis when no model is configured)",
)
async def analyze(body: AnalyzeRequest, conversations: ConversationsDep) -> ChatResponse:
    answer = await conversations.ask(
        _thread_id(body.thread_id),
        kind="analyze",
        content=_text(body.prompt, "prompt"),
        file_ids=_file_ids(body.file_ids),
    )
    return chat_response(answer)


def chat_response(answer: Answer) -> ChatResponse:
    """The spec's answer shape from a completed run."""
    posted = answer.end.answer
    assert posted is not None  # Conversations.ask only returns completed runs
    return ChatResponse(
        thread_id=answer.thread_id,
        message=posted.content,
        files=[MessageFileOut(file_id=f.file_id) for f in posted.files],
        annotations=[
            FilePathAnnotationOut(file_id=a.file_id, text=a.text) for a in posted.annotations
        ],
        run_id=answer.run_id,
    )


def _thread_id(value: str | None) -> str | None:
    return None if value is None else check_id(value, THREAD_ID_PATTERN, "thread_id", "thread_")


def _file_ids(values: list[str]) -> list[str]:
    return [check_id(value, FILE_ID_PATTERN, "file_id", "file-") for value in values]


def _text(value: str, name: str) -> str:
    if "\x00" in value:
        raise BadRequest(f"{name} must not contain NUL characters")
    return value
