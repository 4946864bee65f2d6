"""The FastAPI application: routes, error mapping, body limit, lifespan wiring."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from eventkit.ops.correlation import CorrelationMiddleware
from eventkit.ops.http import RequestMetrics, install_ops_routes
from gateway.api import chat, examples, files, root, threads
from gateway.bootstrap import GatewayDeps, wire
from gateway.errors import install_error_handlers
from gateway.limits import BodySizeLimit

DESCRIPTION = (
    "Chat with an assistant that writes and runs Python in a sandbox. Every step is recorded as "
    "an event; `/api/thread/{id}/events` shows a thread's history."
)


MULTIPART_OVERHEAD = 1 << 20
"""Room for multipart headers and boundaries on top of the largest accepted file."""


def create_app(
    deps: Callable[[], AbstractAsyncContextManager[GatewayDeps]],
    *,
    max_body_bytes: int = 1 << 20,
    max_upload_bytes: int = 512 << 20,
) -> FastAPI:
    """The app; `deps` opens the adapters when the app starts and closes them when it stops."""

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

    app = FastAPI(
        title="Code Interpreter Explorer API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.include_router(root.router)
    app.include_router(threads.router)
    app.include_router(files.router)
    app.include_router(chat.router)
    app.include_router(examples.router)
    install_ops_routes(app, lambda: app.state.checks)
    install_error_handlers(app)
    # file-service enforces the exact file-size limit; this only stops oversized bodies early.
    upload_limit = max_upload_bytes + MULTIPART_OVERHEAD
    app.add_middleware(
        BodySizeLimit, max_bytes=max_body_bytes, per_path={"/api/upload": upload_limit}
    )
    app.add_middleware(RequestMetrics, service="gateway")
    app.add_middleware(CorrelationMiddleware)
    return app
