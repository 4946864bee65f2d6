"""Spans: the HTTP server span and the message handling span continue the caller's trace;
tracing is off unless configured, and a wrong exporter name stops start-up."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import ValidationError

from contracts.envelope import Envelope
from eventkit.http_client import _with_trace_context, service_client
from eventkit.ops.context import handling
from eventkit.ops.correlation import CorrelationMiddleware
from eventkit.ops.http import install_ops_routes
from eventkit.ops.trace import TRACER, current_carrier
from eventkit.ops.tracing import ServiceTracerProvider, TracingSettings, configure_tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CLIENT_SPAN}-01"


@pytest.fixture(scope="module")
def provider_exporter() -> Iterator[InMemorySpanExporter]:
    """An SDK provider recording into memory (the global provider can be set once per process:
    an SDK provider already installed by another test module is reused)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = ServiceTracerProvider()  # what configure_tracing installs
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # later spans are dropped


@pytest.fixture
def spans(provider_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    provider_exporter.clear()
    yield provider_exporter
    provider_exporter.clear()


def _app() -> FastAPI:
    app = FastAPI()
    install_ops_routes(app, {})

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id, "traceparent": current_carrier().get("traceparent", "")}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    app.add_middleware(CorrelationMiddleware)
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _only(spans: InMemorySpanExporter) -> ReadableSpan:
    finished = spans.get_finished_spans()
    assert len(finished) == 1, [s.name for s in finished]
    return finished[0]


async def test_server_span_continues_the_clients_trace(spans: InMemorySpanExporter) -> None:
    async with _client(_app()) as client:
        response = await client.get("/items/7", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200
    span = _only(spans)
    assert span.kind is SpanKind.SERVER
    assert span.name == "GET /items/{item_id}"
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == CLIENT_SPAN
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
        "cie.correlation_id": response.headers["x-correlation-id"],
    }
    # What the request causes (commands, events) names the server span as its parent.
    assert response.json()["traceparent"] == f"00-{TRACE_ID}-{span.context.span_id:016x}-01"


async def test_server_error_marks_the_span(spans: InMemorySpanExporter) -> None:
    async with _client(_app()) as client:
        response = await client.get("/broken")
    assert response.status_code == 500
    span = _only(spans)
    assert span.name == "GET /broken"
    assert span.parent is None  # no client trace: a new one
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["http.response.status_code"] == 500


async def test_unmatched_route_is_named_by_method(spans: InMemorySpanExporter) -> None:
    async with _client(_app()) as client:
        assert (await client.post("/nowhere")).status_code == 404
    span = _only(spans)
    assert span.name == "POST"
    assert "http.route" not in (span.attributes or {})


async def test_operations_routes_make_no_spans(spans: InMemorySpanExporter) -> None:
    async with _client(_app()) as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            response = await client.get(path, headers={"traceparent": TRACEPARENT})
            assert response.status_code == 200, path
    assert spans.get_finished_spans() == ()


def _envelope(trace_headers: dict[str, str]) -> Envelope:
    return Envelope(
        message_id=uuid.uuid4(),
        type="run.requested",
        stream_id="thread_abc",
        correlation_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        payload={},
        trace=trace_headers,
    )


def test_handling_makes_a_consumer_span_under_the_senders(spans: InMemorySpanExporter) -> None:
    envelope = _envelope({"traceparent": TRACEPARENT})
    with handling(envelope):
        inside = current_carrier()
    span = _only(spans)
    assert span.kind is SpanKind.CONSUMER
    assert span.name == "handle run.requested"
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == CLIENT_SPAN
    attributes = span.attributes or {}
    assert attributes["messaging.message.type"] == "run.requested"
    assert attributes["cie.stream_id"] == "thread_abc"
    assert attributes["cie.correlation_id"] == str(envelope.correlation_id)
    # Events appended by the handler carry the consumer span as their parent.
    assert inside["traceparent"] == f"00-{TRACE_ID}-{span.context.span_id:016x}-01"


def test_handling_a_failure_marks_the_span(spans: InMemorySpanExporter) -> None:
    with pytest.raises(ValueError, match="bad"), handling(_envelope({})):
        raise ValueError("bad")
    span = _only(spans)
    assert span.parent is None
    assert span.status.status_code is StatusCode.ERROR


def test_spans_nest_under_the_current_one(spans: InMemorySpanExporter) -> None:
    with handling(_envelope({"traceparent": TRACEPARENT})), TRACER.start_as_current_span("inner"):
        pass
    inner, outer = spans.get_finished_spans()
    assert inner.parent is not None
    assert inner.parent.span_id == outer.context.span_id


async def test_service_client_sends_the_trace_context(spans: InMemorySpanExporter) -> None:
    async with service_client("http://file-service", 5.0) as http:
        assert _with_trace_context in http.event_hooks["request"]
    request = httpx.Request("GET", "http://file-service/files/x")
    with TRACER.start_as_current_span("caller") as span:
        await _with_trace_context(request)
    expected = f"00-{span.get_span_context().trace_id:032x}-{span.get_span_context().span_id:016x}"
    assert request.headers["traceparent"].startswith(expected)


async def test_service_client_without_a_trace_sends_none() -> None:
    request = httpx.Request("GET", "http://file-service/files/x")
    await _with_trace_context(request)
    assert "traceparent" not in request.headers


def test_exporter_none_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIE_TRACE_EXPORTER", raising=False)
    before = trace.get_tracer_provider()
    stop = configure_tracing("test")
    assert trace.get_tracer_provider() is before
    stop()  # harmless


def test_an_unknown_exporter_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIE_TRACE_EXPORTER", "jaeger")
    with pytest.raises(ValidationError) as raised:
        TracingSettings()
    message = str(raised.value)
    assert "trace_exporter" in message
    assert "'none', 'otlp' or 'console'" in message


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CIE_", "OTEL_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_console_exporter_prints_spans_on_shutdown() -> None:
    done = _python(
        "from eventkit.ops.tracing import configure_tracing\n"
        "from eventkit.ops.trace import TRACER\n"
        "stop = configure_tracing('svc-under-test')\n"
        "with TRACER.start_as_current_span('a span of ours'):\n"
        "    pass\n"
        "stop()\n",
        CIE_TRACE_EXPORTER="console",
    )
    assert done.returncode == 0, done.stderr
    assert '"name": "a span of ours"' in done.stderr
    assert '"service.name": "svc-under-test"' in done.stderr


def test_an_unknown_exporter_stops_a_service_at_start_up() -> None:
    done = _python(
        "from eventkit.ops.tracing import configure_tracing\nconfigure_tracing('svc')\n",
        CIE_TRACE_EXPORTER="zipkin",
    )
    assert done.returncode != 0
    assert "trace_exporter" in done.stderr
    assert "Input should be 'none', 'otlp' or 'console'" in done.stderr


def test_without_a_provider_spans_cost_nothing_and_context_still_flows() -> None:
    done = _python(
        "import uuid\n"
        "from datetime import UTC, datetime\n"
        "from contracts.envelope import Envelope\n"
        "from eventkit.ops.context import handling\n"
        "from eventkit.ops.trace import current_carrier, spanned\n"
        "envelope = Envelope(message_id=uuid.uuid4(), type='run.requested', stream_id='t',\n"
        "    correlation_id=uuid.uuid4(), occurred_at=datetime.now(UTC), payload={},\n"
        f"    trace={{'traceparent': '{TRACEPARENT}'}})\n"
        "with handling(envelope), spanned('inner') as span:\n"
        "    assert not span.is_recording()\n"
        "    print(current_carrier()['traceparent'])\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == TRACEPARENT
