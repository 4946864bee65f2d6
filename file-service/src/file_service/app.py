"""The FastAPI application: routes, error mapping, lifespan wiring."""

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from file_service import api
from file_service.bootstrap import FileServiceDeps
from file_service.errors import FileServiceError, RangeNotSatisfiable
from file_service.service import Files

logger = logging.getLogger(__name__)


def create_app(deps: Callable[[], AbstractAsyncContextManager[FileServiceDeps]]) -> FastAPI:
    """The app; `deps` opens the adapters when the app starts and closes them when it stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with deps() as opened:
            files = Files(
                opened.store,
                opened.blobs,
                opened.view,
                opened.clock,
                max_upload_bytes=opened.max_upload_bytes,
            )
            events = await files.catch_up()
            logger.info("file list caught up over %d file events", events)
            app.state.files = files
            yield

    app = FastAPI(
        title="file-service",
        version="0.1.0",
        description="Uploads, downloads and generated files (internal API).",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    install_error_handlers(app)
    return app


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to a JSON `{"detail": "<string>"}` response."""

    @app.exception_handler(FileServiceError)
    async def file_service_error(_: Request, error: FileServiceError) -> JSONResponse:
        headers = None
        if isinstance(error, RangeNotSatisfiable):
            headers = {"Content-Range": f"bytes */{error.size}"}
        return JSONResponse(
            {"detail": error.detail}, status_code=error.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(part) for part in item.get('loc', ()))}: {item.get('msg', 'invalid')}"
            for item in error.errors()
        ]
        return JSONResponse({"detail": "Invalid request: " + "; ".join(problems)}, status_code=422)

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
