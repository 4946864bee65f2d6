"""Every service answers /healthz, /readyz and /metrics, and logs JSON with correlation ids."""

import json
import uuid

import httpx
import pytest

from tests.e2e.conftest import Distributed

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.rabbitmq]

SERVICES = ("gateway", "file-service", "thread-service", "run-service", "relay")


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_alive_and_ready(system: Distributed, service: str) -> None:
    base = system.ops_urls[service]
    assert httpx.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert "database" in checks
    if service != "file-service":
        assert checks["broker"] == "connected"
    if service == "run-service":
        assert checks["sandbox"].startswith("bubblewrap+")  # never a weaker fallback
        assert checks["model"].startswith("none configured")


def test_metrics_count_requests_runs_and_relayed_events(system: Distributed) -> None:
    with system.client() as client:
        answer = client.post("/api/chat", json={"message": "```python\nprint(2)\n```"}, timeout=60)
        assert answer.status_code == 200, answer.text

    gateway = httpx.get(f"{system.ops_urls['gateway']}/metrics", timeout=10).text
    assert 'cie_http_request_duration_seconds_count{method="POST",route="/api/chat"' in gateway
    runs = httpx.get(f"{system.ops_urls['run-service']}/metrics", timeout=10).text
    assert _value(runs, 'cie_runs_total{outcome="completed"}') >= 1
    assert _value(runs, 'cie_code_executions_total{outcome="ok"}') >= 1
    assert 'cie_sandbox_sessions{state="warm"}' in runs
    threads = httpx.get(f"{system.ops_urls['thread-service']}/metrics", timeout=10).text
    assert _value(threads, 'cie_commands_total{outcome="ok",type="thread.request_run"}') >= 1
    relay = httpx.get(f"{system.ops_urls['relay']}/metrics", timeout=10).text
    assert _value(relay, "cie_relay_published_total") >= 4


def test_logs_are_json_lines_naming_the_requests_correlation_id(system: Distributed) -> None:
    correlation = str(uuid.uuid4())
    with system.client() as client:
        answer = client.post(
            "/api/chat",
            json={"message": "```python\nprint(3)\n```"},
            headers={"X-Correlation-Id": correlation},
            timeout=60,
        )
    assert answer.headers["x-correlation-id"] == correlation
    events = httpx.get(
        f"{system.base_url}/api/thread/{answer.json()['thread_id']}/events", timeout=10
    ).json()["events"]
    assert {e["correlation_id"] for e in events[1:]} == {correlation}
    lines = [
        json.loads(line)
        for line in system.services["run-service"].log().splitlines()
        if line.startswith("{")
    ]
    assert lines, "run-service logs JSON lines"
    assert all({"time", "level", "service", "message"} <= set(line) for line in lines)
    assert any(line.get("correlation_id") == correlation for line in lines)


def test_the_clients_trace_context_reaches_every_event_of_the_chat(system: Distributed) -> None:
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    with system.client() as client:
        answer = client.post(
            "/api/chat",
            json={"message": "```python\nprint(4)\n```"},
            headers={"traceparent": traceparent},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        events = client.get(f"/api/thread/{answer.json()['thread_id']}/events").json()["events"]

    by_type = {e["type"]: e["trace"].get("traceparent", "") for e in events}
    # thread-service wrote the request; run-service, behind the relay and RabbitMQ, the rest.
    for event_type in ("run.requested", "run.started", "run.code_executed", "run.completed"):
        assert trace_id in by_type[event_type], event_type


def _value(metrics: str, name: str) -> float:
    """The sample `name` (with its labels, as exposed) in a Prometheus text exposition."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics")
