"""Trace context (W3C `traceparent`) across HTTP, RabbitMQ headers and stored events, and the
tracer our spans come from.

Only the OpenTelemetry API is used here: with no SDK installed (the default, see
`eventkit.ops.tracing`) spans are not recorded, but a context that arrived with a request still
travels with every command and event it causes. With an exporter on, each service's spans
(HTTP request, message handled, command sent, code executed) join that context, so one chat is
one trace across services.
"""

import contextlib
from collections.abc import Iterator, Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

TRACER = trace.get_tracer("cie")
"""A proxy: no-op spans until a provider is installed (at any time), then that provider's."""


def current_carrier() -> dict[str, str]:
    """The current trace context as headers (empty when there is none)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextlib.contextmanager
def continued(carrier: Mapping[str, object] | None) -> Iterator[None]:
    """Run the block inside the trace context `carrier` holds (if any)."""
    headers = {k: str(v) for k, v in (carrier or {}).items() if isinstance(v, str | bytes)}
    if not headers:
        yield
        return
    token = otel_context.attach(propagate.extract(headers))
    try:
        yield
    finally:
        otel_context.detach(token)
