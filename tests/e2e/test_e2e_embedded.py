"""The embedded default as `make run` starts it: one process, SQLite under a data dir."""

import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Service, free_port, running, service_env, wait_until_http_ready

pytestmark = pytest.mark.e2e


def start(data_dir: Path, logs: Path, port: int) -> Service:
    env = service_env({"CIE_DATA_DIR": str(data_dir), "PORT": str(port)})
    return Service("embedded", "cie_embedded", env, logs)


def test_data_survives_a_restart(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    with running({"embedded": start(data_dir, tmp_path, port)}) as services:
        wait_until_http_ready(f"{base}/", list(services.values()))
        with httpx.Client(base_url=base, timeout=10) as http:
            thread_id = http.post("/api/thread/create").json()["thread_id"]
            assert http.get(f"/api/thread/{thread_id}/messages").json() == {"messages": []}
            http.post(f"/api/thread/{thread_id}/messages", json={"content": "remember me"})
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert services["embedded"].stop() in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in services["embedded"].log()

    assert (data_dir / "cie.db").exists()
    with running({"embedded": start(data_dir, tmp_path, port)}) as services:
        wait_until_http_ready(f"{base}/", list(services.values()))
        with httpx.Client(base_url=base, timeout=10) as http:
            messages = http.get(f"/api/thread/{thread_id}/messages").json()["messages"]
            assert [m["content"] for m in messages] == ["remember me"]
            events = http.get(f"/api/thread/{thread_id}/events").json()["events"]
            assert [e["type"] for e in events] == ["thread.created", "thread.user_message_posted"]
