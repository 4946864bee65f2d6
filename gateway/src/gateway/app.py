"""The FastAPI application: routes, error mapping, body limit, CORS, docs, lifespan wiring."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from eventkit.ops.correlation import HEADER as CORRELATION_HEADER
from eventkit.ops.correlation import CorrelationMiddleware
from eventkit.ops.http import RequestMetrics, install_ops_routes
from gateway.api import chat, examples, files, root, threads
from gateway.bootstrap import GatewayDeps, wire
from gateway.docs import install_docs, truthful_openapi
from gateway.errors import install_error_handlers
from gateway.limits import BodySizeLimit
from gateway.settings import check_cors_origin

DESCRIPTION = (
    "Chat with an assistant that writes and runs Python in a sandbox. Every step is recorded as "
    "an event; `/api/thread/{id}/events` shows a thread's history. Every error answers "
    '`{"detail": "<text>"}`.'
)


MULTIPART_OVERHEAD = 1 << 20
"""Room for multipart headers and boundaries on top of the largest accepted file."""

CORS_METHODS = ("GET", "POST", "OPTIONS")


class GatewayApp(FastAPI):
    """FastAPI, with the OpenAPI document saying what the routes really answer."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = truthful_openapi(super().openapi())
        return self.openapi_schema


def operation_id(route: APIRoute) -> str:
    """Each operation's id is its handler's name (`list_messages`, `upload`, ...)."""
    return route.name


def create_app(
    deps: Callable[[], AbstractAsyncContextManager[GatewayDeps]],
    *,
    max_body_bytes: int = 1 << 20,
    max_upload_bytes: int = 512 << 20,
    cors_origins: Sequence[str] = (),
) -> FastAPI:
    """The app; `deps` opens the adapters when the app starts and closes them when it stops.

    `cors_origins`: browser origins allowed to call the API (`("*",)` for any); empty: no CORS.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with deps() as opened:
            wired = await wire(opened)
            app.state.store = wired.store
            app.state.view = wired.view
            app.state.projector = wired.projector
            app.state.commands = wired.commands
            app.state.files = wired.files
            app.state.conversations = wired.conversations
            app.state.checks = wired.checks
            yield

    app = GatewayApp(
        title="Code Interpreter Explorer API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.include_router(root.router)
    app.include_router(threads.router)
    app.include_router(files.router)
    app.include_router(chat.router)
    app.include_router(examples.router)
    install_ops_routes(app, lambda: app.state.checks, include_in_schema=True)
    install_docs(app)
    install_error_handlers(app)
    # file-service enforces the exact file-size limit; this only stops oversized bodies early.
    upload_limit = max_upload_bytes + MULTIPART_OVERHEAD
    app.add_middleware(
        BodySizeLimit, max_bytes=max_body_bytes, per_path={"/api/upload": upload_limit}
    )
    app.add_middleware(RequestMetrics, service="gateway")
    app.add_middleware(CorrelationMiddleware)
    if cors_origins:
        _allow_cross_origin(app, [check_cors_origin(origin) for origin in cors_origins])
    return app


def _allow_cross_origin(app: FastAPI, origins: list[str]) -> None:
    """Outermost, so preflights and every answer (413s too) carry the CORS headers."""
    any_origin = "*" in origins
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"] if any_origin else origins,
        allow_methods=list(CORS_METHODS),
        allow_headers=["*"],
        expose_headers=[CORRELATION_HEADER],
        allow_credentials=not any_origin,
    )
