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


# Where an exception comes from (its class's module) says which dependency is out.
_DATABASE_MODULES = ("asyncpg", "sqlalchemy", "aiosqlite", "sqlite3", "psycopg")
_BROKER_MODULES = ("aiormq", "aio_pika", "pamqp")


def dependency_outage(error: BaseException) -> str | None:
    """A plain sentence naming the dependency that is unavailable, if `error` (or what caused
    it) is a connection failure to the database or the message broker; None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__.split(".")[0]
        name = type(current).__name__
        if module in _BROKER_MODULES and ("Connection" in name or "Channel" in name):
            return "The message broker is unavailable"
        if module in _DATABASE_MODULES and _is_connection_failure(current):
            return "The database is unavailable"
        if isinstance(current, ConnectionRefusedError | ConnectionResetError):
            # A socket error: the code it came through says which dependency it was.
            origins = _origins(current)
            if origins & set(_DATABASE_MODULES):
                return "The database is unavailable"
            if origins & set(_BROKER_MODULES):
                return "The message broker is unavailable"
            return "A service this one depends on is unavailable"
        current = current.__cause__ or current.__context__
    return None


def _origins(error: BaseException) -> set[str]:
    """The top-level packages of the code an exception passed through."""
    found: set[str] = set()
    trace = error.__traceback__
    while trace is not None:
        found.add(str(trace.tb_frame.f_globals.get("__name__", "")).split(".")[0])
        trace = trace.tb_next
    return found


def _is_connection_failure(error: BaseException) -> bool:
    """A database error that is about reaching the database, not about a query."""
    name = type(error).__name__
    if name in (
        "OperationalError",
        "InterfaceError",
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "ConnectionFailureError",
        "TooManyConnectionsError",
    ):
        return True
    return bool(getattr(error, "connection_invalidated", False)) or "Connection" in name


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
        outage = dependency_outage(error)
        if outage is not None:
            logger.warning(
                "%s on %s %s (reference %s): %r",
                outage,
                request.method,
                request.url.path,
                reference,
                error,
            )
            return JSONResponse(
                {"detail": f"{outage}; try again in a moment (reference {reference})"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        logger.exception("unhandled error %s on %s %s", reference, request.method, request.url.path)
        return JSONResponse(
            {"detail": f"Internal server error (reference {reference})"}, status_code=500
        )
