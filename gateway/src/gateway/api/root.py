"""`GET /`: the health check of the spec."""

from fastapi import APIRouter

from gateway.api.schemas import RootResponse

router = APIRouter(tags=["health"])


@router.get("/", response_model=RootResponse, summary="Check that the API is running")
async def root() -> RootResponse:
    return RootResponse(message="OpenAI Code Interpreter Explorer API")
