"""One chat is one trace: every service's spans of it reach the collector, in one tree under the
client's span (HTTP -> command -> event through the relay -> run -> file-service)."""

import secrets
import time

import httpx
import pytest

from tests.e2e.conftest import Distributed
from tests.e2e.otlp_collector import CollectedSpan, Collector

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.rabbitmq]

WAIT_S = 10.0


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def _spans_when(
    collector: Collector, trace_id: str, services: set[str], names: set[str], root: str
) -> list[CollectedSpan]:
    """The trace's spans once every service in `services` and every name in `names` is in,
    and every span's parent too (or is `root`, the client's): services export in batches, so
    a parent may arrive after its child. Past the wait, what is there (the tree assertion
    then says what is missing)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        spans = collector.spans(trace_id)
        complete = services <= {s.service for s in spans} and names <= {s.name for s in spans}
        ids = {s.span_id for s in spans} | {root}
        if complete and all(s.parent_span_id in ids for s in spans):
            return spans
        if time.monotonic() > deadline:
            if complete:
                return spans
            seen = sorted((s.service, s.name) for s in spans)
            pytest.fail(f"after {WAIT_S} s the trace has only {seen}")
        time.sleep(0.1)


def _when_runs_are_taken(system: Distributed) -> None:
    """Wait until run-service owns its run partitions (a fresh system may still be taking them)."""
    deadline = time.monotonic() + 60
    while httpx.get(f"{system.ops_urls['run-service']}/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "run-service is not ready"
        time.sleep(0.2)


def _ancestors(span: CollectedSpan, spans: list[CollectedSpan]) -> list[str]:
    """The span ids above `span`, nearest first, up to the topmost collected one."""
    parents = {s.span_id: s.parent_span_id for s in spans}
    chain = []
    current = span.parent_span_id
    while current in parents:
        chain.append(current)
        current = parents[current]
    return chain


def _assert_one_tree(spans: list[CollectedSpan], client_span: str) -> None:
    ids = {s.span_id for s in spans}
    assert len(ids) == len(spans), "span ids repeat"
    for span in spans:
        assert span.parent_span_id in ids | {client_span}, span


def test_a_chat_with_code_is_one_trace_across_services(
    system: Distributed, otlp_collector: Collector
) -> None:
    traceparent, trace_id, client_span = _traceparent()
    code = "```python\nprint(6 * 7)\n```"
    _when_runs_are_taken(system)
    with system.client() as client:
        response = client.post(
            "/api/chat", json={"message": code}, headers={"traceparent": traceparent}, timeout=60
        )
    assert response.status_code == 200, response.text
    assert "42" in response.json()["message"]

    run_name = f"run {response.json()['run_id']}"
    wanted = {
        "POST /api/chat",
        "send thread.create",
        "send thread.request_run",
        "handle thread.request_run",
        "handle run.requested",
        run_name,
        "execute code",
    }
    spans = _spans_when(
        otlp_collector, trace_id, {"gateway", "thread-service", "run-service"}, wanted, client_span
    )
    assert {s.trace_id for s in spans} == {trace_id}
    _assert_one_tree(spans, client_span)
    by_name = {(s.service, s.name): s for s in spans}
    server = by_name["gateway", "POST /api/chat"]
    assert (server.service, server.kind, server.parent_span_id) == (
        "gateway",
        "server",
        client_span,
    )
    sent = by_name["gateway", "send thread.request_run"]
    assert (sent.kind, sent.parent_span_id) == ("producer", server.span_id)
    handled = by_name["thread-service", "handle thread.request_run"]
    assert (handled.kind, handled.parent_span_id) == ("consumer", sent.span_id)
    run = by_name["run-service", "handle run.requested"]
    # The event went through the store and the relay: its parent is the command's handler.
    assert (run.service, run.kind, run.parent_span_id) == (
        "run-service",
        "consumer",
        handled.span_id,
    )
    executed = by_name["run-service", "execute code"]
    # The run's span sits between the delivery that carried it out and its executions.
    run_span = by_name["run-service", run_name]
    assert run_span.parent_span_id == run.span_id
    assert executed.parent_span_id == run_span.span_id
    assert _ancestors(executed, spans)[-1] == server.span_id
    # The gateway's projection hears the run's events in the same trace.
    assert any(s.service == "gateway" and s.name.startswith("handle run.") for s in spans)
    # Probes and scrapes are not traced.
    assert not any("/healthz" in s.name or "/readyz" in s.name for s in otlp_collector.spans())


def test_an_upload_and_a_chat_on_it_trace_file_service_too(
    system: Distributed, otlp_collector: Collector
) -> None:
    upload_parent, upload_trace, upload_span = _traceparent()
    chat_parent, chat_trace, chat_span = _traceparent()
    _when_runs_are_taken(system)
    with system.client() as client:
        upload = client.post(
            "/api/upload",
            files={"file": ("nums.csv", b"x,y\n1,2\n2,4\n", "text/csv")},
            headers={"traceparent": upload_parent},
        )
        assert upload.status_code == 200, upload.text
        code = "```python\nimport pandas as pd\nprint(pd.read_csv('nums.csv')['y'].sum())\n```"
        response = client.post(
            "/api/chat",
            json={"message": code, "file_ids": [upload.json()["file_id"]]},
            headers={"traceparent": chat_parent},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    assert "6" in response.json()["message"]

    uploaded = _spans_when(
        otlp_collector, upload_trace, {"gateway", "file-service"}, {"POST /api/upload"}, upload_span
    )
    _assert_one_tree(uploaded, upload_span)
    (files_server,) = [s for s in uploaded if s.service == "file-service" and s.kind == "server"]
    gateway_server = next(s for s in uploaded if s.name == "POST /api/upload")
    assert files_server.parent_span_id == gateway_server.span_id

    # run-service fetches the attached file from file-service within the chat's trace.
    chat = _spans_when(
        otlp_collector,
        chat_trace,
        {"gateway", "thread-service", "run-service", "file-service"},
        {"POST /api/chat", "handle run.requested", "execute code"},
        chat_span,
    )
    assert {s.trace_id for s in chat} == {chat_trace}
    _assert_one_tree(chat, chat_span)
    run_spans = {s.span_id for s in chat if s.service == "run-service"}
    assert any(
        s.service == "file-service" and s.kind == "server" and s.parent_span_id in run_spans
        for s in chat
    )
