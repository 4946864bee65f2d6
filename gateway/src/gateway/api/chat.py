"""Chat and analysis routes: a message (or prompt and files) in, the run's answer out."""

from typing import Annotated, Any

from fastapi import APIRouter, Body

from contracts.ids import FILE_ID_PATTERN, THREAD_ID_PATTERN
from gateway.api.deps import ConversationsDep, check_id
from gateway.api.schemas import (
    FILE_SERVICE_ERRORS,
    THREAD_SERVICE_DOWN,
    AnalyzeRequest,
    ChatRequest,
    ChatResponse,
    FilePathAnnotationOut,
    MessageFileOut,
    error_responses,
)
from gateway.api.threads import THREAD_LINKS
from gateway.conversations import Answer
from gateway.errors import BadRequest

router = APIRouter(prefix="/api", tags=["chat"])

RUN_FAILED = (
    "The run ended without an answer (the model server failed, run-service crashed); "
    "`detail` says why and names the thread. Or an unexpected fault, with a reference that "
    "is also in the server's log"
)
RUN_SLOW = (
    "The run did not end within CIE_RUN_TIMEOUT_S (its answer still lands in the thread), "
    "or thread-service did not answer in time"
)
ASK_ERRORS = error_responses(
    {
        400: "Malformed thread or file id, malformed JSON, or NUL in the text",
        404: "Unknown thread or file (checked before anything is written)",
        409: "The thread is changing too fast; try again",
        413: "Body over the size limit",
        422: "Wrong types or fields; `detail` says which",
        500: RUN_FAILED,
        502: FILE_SERVICE_ERRORS[502],
        503: f"{THREAD_SERVICE_DOWN}, or file-service is",
        504: RUN_SLOW,
    }
)
"""What /api/chat and /api/analyze can answer besides 200."""

ANSWER_LINKS = {"links": THREAD_LINKS}
"""The 200 answer's links: the thread's messages and events."""

CHAT_EXAMPLES: dict[str, Any] = {
    "python": {
        "summary": "Run Python (works without a model)",
        "description": (
            "Without a model (the default), the ```python blocks of the message run as written "
            "in the thread's sandbox and the answer shows their output."
        ),
        "value": {"message": "```python\nimport numpy as np\nprint(np.arange(10).sum())\n```"},
    },
    "question": {
        "summary": "Ask in plain words (needs a model)",
        "description": (
            "With a model configured it writes and runs the code; without one the answer "
            "explains how to configure one."
        ),
        "value": {"message": "What is the sum of the integers from 1 to 100?"},
    },
}
ANALYZE_EXAMPLES: dict[str, Any] = {
    "uploaded": {
        "summary": "Analyze uploaded files",
        "description": (
            "Put the `file_id`s that POST /api/upload answered in `file_ids`; "
            "`file-abc123` is a placeholder, and an unknown id answers 404."
        ),
        "value": {"prompt": "Analyze this dataset", "file_ids": ["file-abc123"]},
    },
    "nothing": {
        "summary": "No files: the answer says how to attach some",
        "value": {"prompt": "Analyze this dataset", "file_ids": []},
    },
}


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={200: ANSWER_LINKS, **ASK_ERRORS},
    summary="Send a message; the assistant answers, running Python in the thread's sandbox",
)
async def chat(
    body: Annotated[ChatRequest, Body(openapi_examples=CHAT_EXAMPLES)],
    conversations: ConversationsDep,
) -> ChatResponse:
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
    responses={200: ANSWER_LINKS, **ASK_ERRORS},
    summary="Analyze uploaded files (built-in analysis when no model is configured)",
)
async def analyze(
    body: Annotated[AnalyzeRequest, Body(openapi_examples=ANALYZE_EXAMPLES)],
    conversations: ConversationsDep,
) -> ChatResponse:
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
