"""The spec's pre-built examples: built-in programs really run in a new thread's sandbox."""

from fastapi import APIRouter

from contracts.runs import ExampleName
from gateway.api.chat import ANSWER_LINKS, RUN_FAILED, RUN_SLOW, chat_response
from gateway.api.deps import ConversationsDep
from gateway.api.schemas import THREAD_SERVICE_DOWN, ChatResponse, error_responses

router = APIRouter(prefix="/api/examples", tags=["examples"])

RESPONSES = {
    200: ANSWER_LINKS,
    **error_responses({500: RUN_FAILED, 503: THREAD_SERVICE_DOWN, 504: RUN_SLOW}),
}
"""An example runs in a new thread, without files: no 4xx."""


async def _run(example: ExampleName, conversations: ConversationsDep) -> ChatResponse:
    return chat_response(await conversations.ask(None, kind="example", example=example))


@router.post(
    "/data-analysis",
    response_model=ChatResponse,
    responses=RESPONSES,
    summary="100 generated sales records: revenue by product, best region, a time series chart",
)
async def data_analysis(conversations: ConversationsDep) -> ChatResponse:
    return await _run("data-analysis", conversations)


@router.post(
    "/math-computation",
    response_model=ChatResponse,
    responses=RESPONSES,
    summary="Fibonacci numbers, primes up to 100, polynomial roots and a plot",
)
async def math_computation(conversations: ConversationsDep) -> ChatResponse:
    return await _run("math-computation", conversations)


@router.post(
    "/image-generation",
    response_model=ChatResponse,
    responses=RESPONSES,
    summary="A correlation heatmap, a 3D surface and a pie chart: three PNG files",
)
async def image_generation(conversations: ConversationsDep) -> ChatResponse:
    return await _run("image-generation", conversations)
