"""Gateway errors and their one mapping to HTTP: every error answers `{"detail": "..."}`."""

import json
import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """Base class; `status_code` is the HTTP status it maps to."""

    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(GatewayError):
    """The request is malformed."""

    status_code = 400


class NotFound(GatewayError):
    """The named resource does not exist."""

    status_code = 404


class Conflict(GatewayError):
    """The request clashes with the current state."""

    status_code = 409


class PayloadTooLarge(GatewayError):
    """The request body is over the configured limit."""

    status_code = 413


class Unprocessable(GatewayError):
    """The request is well-formed but lacks what the route needs."""

    status_code = 422


class UpstreamUnavailable(GatewayError):
    """A service the request needs is not reachable."""

    status_code = 503


class UpstreamTimeout(GatewayError):
    """A service the request needs did not answer in time."""

    status_code = 504


def _detail_of_validation(error: RequestValidationError) -> tuple[int, str]:
    problems = []
    for item in error.errors():
        if item.get("type") == "json_invalid":
            return 400, f"Malformed JSON body: {item.get('ctx', {}).get('error', 'cannot parse')}"
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
    return 422, "Invalid request: " + "; ".join(problems)


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to a JSON `{"detail": ...}` response."""

    @app.exception_handler(GatewayError)
    async def gateway_error(_: Request, error: GatewayError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        status, detail = _detail_of_validation(error)
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
