"""HTTP requests get a correlation id (the client's `X-Correlation-Id` if it is a UUID) and
a server span continuing the client's trace (`traceparent`); the id is echoed in the response."""

import uuid

from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventkit.ops.http import OPS_PATHS, route_template
from eventkit.ops.logs import CORRELATION_ID
from eventkit.ops.trace import continued, spanned

HEADER = "x-correlation-id"


class CorrelationMiddleware:
    """Sets the correlation id and trace context every log line and message of the request uses."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        correlation = _valid_uuid(headers.get(HEADER)) or str(uuid.uuid4())

        status = {"code": 500}

        async def echo(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (HEADER.encode(), correlation.encode()),
                ]
            await send(message)

        token = CORRELATION_ID.set(correlation)
        try:
            with continued(
                {k: v for k, v in headers.items() if k in ("traceparent", "tracestate")}
            ):
                if scope["path"] in OPS_PATHS:  # probes and scrapes: no spans, only noise
                    await self._app(scope, receive, echo)
                    return
                method = scope["method"]
                with spanned(method, kind=SpanKind.SERVER) as span:
                    try:
                        await self._app(scope, receive, echo)
                    finally:
                        if span.is_recording():
                            # The route template is known once the router has matched.
                            route = route_template(scope)
                            span.set_attributes(
                                {
                                    "http.request.method": method,
                                    "http.response.status_code": status["code"],
                                    "cie.correlation_id": correlation,
                                }
                            )
                            if route is not None:
                                span.update_name(f"{method} {route}")
                                span.set_attribute("http.route", route)
                            if status["code"] >= 500:
                                span.set_status(Status(StatusCode.ERROR))
        finally:
            CORRELATION_ID.reset(token)


def _valid_uuid(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def current_correlation_id() -> uuid.UUID:
    """The correlation id of the request or message being handled, or a fresh one."""
    value = CORRELATION_ID.get()
    return uuid.UUID(value) if value is not None else uuid.uuid4()
