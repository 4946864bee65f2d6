"""The FastAPI application: routes, error mapping, lifespan wiring."""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from eventkit.http_errors import install_error_handlers
from eventkit.ops.checks import store_check
from eventkit.ops.correlation import CorrelationMiddleware
from eventkit.ops.http import RequestMetrics, install_ops_routes
from file_service import api
from file_service.bootstrap import FileServiceDeps
from file_service.errors import FileServiceError
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
                storage_limit_bytes=opened.storage_limit_bytes,
            )
            events = await files.catch_up()
            logger.info("file list caught up over %d file events", events)
            app.state.files = files
            app.state.checks = {"database": store_check(opened.store), **opened.checks}
            yield

    app = FastAPI(
        title="file-service",
        version="0.1.0",
        description="Uploads, downloads and generated files (internal API).",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    install_ops_routes(app, lambda: app.state.checks)
    install_error_handlers(app, FileServiceError)
    app.add_middleware(RequestMetrics, service="file-service")
    app.add_middleware(CorrelationMiddleware)
    return app
