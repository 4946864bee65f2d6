"""The FastAPI application: routes, error mapping, body limit, lifespan wiring."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from gateway.api import root, threads
from gateway.bootstrap import GatewayDeps, wire
from gateway.errors import install_error_handlers
from gateway.limits import BodySizeLimit

DESCRIPTION = (
    "Chat with an assistant that writes and runs Python in a sandbox. Every step is recorded as "
    "an event; `/api/thread/{id}/events` shows a thread's history."
)


def create_app(
    deps: Callable[[], AbstractAsyncContextManager[GatewayDeps]], *, max_body_bytes: int = 1 << 20
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
            yield

    app = FastAPI(
        title="Code Interpreter Explorer API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.include_router(root.router)
    app.include_router(threads.router)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    return app
