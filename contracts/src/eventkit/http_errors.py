"""One mapping of exceptions to HTTP answers for every service: always `{"detail": "<text>"}`.

A service's own errors carry `status_code` and `detail` (and optionally `headers`); request
validation becomes 422 (400 for a body that is not JSON); anything unexpected becomes 500 with
a reference that is also in the log.
"""

import json
import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


def validation_answer(error: RequestValidationError) -> tuple[int, str]:
    """The status and detail for a request that failed validation."""
    problems = []
    for item in error.errors():
        if item.get("type") == "json_invalid":
            return 400, f"Malformed JSON body: {item.get('ctx', {}).get('error', 'cannot parse')}"
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
    return 422, "Invalid request: " + "; ".join(problems)


def install_error_handlers(app: FastAPI, service_error: type[Exception]) -> None:
    """Answer every error of `app` as JSON `{"detail": ...}`; `service_error` is its base class."""

    @app.exception_handler(service_error)
    async def refused(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": str(getattr(error, "detail", error))},
            status_code=int(getattr(error, "status_code", 500)),
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        status, detail = validation_answer(error)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else json.dumps(error.detail)
        return JSONResponse(
            {"detail": detail}, status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        reference = uuid.uuid4().hex[:12]
        logger.exception("unhandled error %s on %s %s", reference, request.method, request.url.path)
        return JSONResponse(
            {"detail": f"Internal server error (reference {reference})"}, status_code=500
        )
