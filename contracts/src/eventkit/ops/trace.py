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
from contextlib import AbstractContextManager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import INVALID_SPAN, ProxyTracerProvider, Span, SpanKind

TRACER = trace.get_tracer("cie")
"""A proxy: no-op spans until a provider is installed (at any time), then that provider's."""

_NO_SPAN = contextlib.nullcontext(INVALID_SPAN)


def spanned(name: str, kind: SpanKind = SpanKind.INTERNAL) -> AbstractContextManager[Span]:
    """A span made current for the block, like `TRACER.start_as_current_span`.

    While no tracer provider is installed (tracing off) there is nothing to record, and the
    API's no-op span would only repeat the current context: the block gets a non-recording span
    and the context stays as it is, for a tenth of the cost (a message handled or a request
    served pays well under a microsecond).
    """
    if isinstance(trace.get_tracer_provider(), ProxyTracerProvider):
        return _NO_SPAN
    return TRACER.start_as_current_span(name, kind=kind)


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
