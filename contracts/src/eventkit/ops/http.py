"""/healthz, /readyz and /metrics for any FastAPI app, a standalone ops server, and an
ASGI middleware recording request latency by route template."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventkit.ops.metrics import HTTP_REQUEST_SECONDS
from eventkit.ops.probes import Check, run_checks

OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


Checks = Mapping[str, Check] | Callable[[], Mapping[str, Check]]


class Health(BaseModel):
    """`/healthz`: the process is up."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """`/readyz`: whether every dependency answered, and what each check found."""

    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description="Check name to what it found, or why it failed")


METRICS_MEDIA_TYPE = CONTENT_TYPE_LATEST.split(";")[0]


def install_ops_routes(app: FastAPI, checks: Checks, *, include_in_schema: bool = False) -> None:
    """Add the three operations routes (hidden from the OpenAPI docs unless asked).

    `checks` may be a callable, for apps whose dependencies open in their lifespan.
    """

    @app.get(
        "/healthz",
        response_model=Health,
        include_in_schema=include_in_schema,
        tags=["operations"],
        summary="Liveness: the process answers",
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=Readiness,
        include_in_schema=include_in_schema,
        tags=["operations"],
        summary="Readiness: every dependency answered its check",
        responses={
            200: {"description": "Ready"},
            503: {"model": Readiness, "description": "Not ready: `checks` says what failed"},
        },
    )
    async def readyz() -> JSONResponse:
        ready, report = await run_checks(checks() if callable(checks) else checks)
        body = {"status": "ready" if ready else "not ready", "checks": report}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get(
        "/metrics",
        response_class=Response,
        include_in_schema=include_in_schema,
        tags=["operations"],
        summary="Prometheus metrics (text exposition format)",
        responses={
            200: {
                "description": "The metrics",
                "content": {METRICS_MEDIA_TYPE: {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def ops_app(checks: Checks) -> FastAPI:
    """An app with only the operations routes (services without an HTTP API)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    install_ops_routes(app, checks)
    return app


@contextlib.asynccontextmanager
async def serving_ops(app: FastAPI, host: str, port: int) -> AsyncIterator[None]:
    """Serve `app` on host:port in the background for as long as the block runs."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if task.done():
            task.result()  # raise what stopped it (e.g. the port is taken)
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task


class RequestMetrics:
    """Observes each HTTP request's latency under its route template (not the raw path)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self._app = app
        self._service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPS_PATHS:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def remember_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, remember_status)
        finally:
            HTTP_REQUEST_SECONDS.labels(
                self._service,
                scope["method"],
                route_template(scope) or "unmatched",
                str(status["code"]),
            ).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (the router leaves the route in the scope)."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None
