"""Chats across processes: gateway -> thread-service -> relay -> run-service -> gateway."""

import signal
import threading
import time

import httpx
import pytest

from tests.e2e.conftest import Distributed

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.rabbitmq]

SLOW = "```python\nimport time\nfor i in range(40):\n    time.sleep(0.25)\nprint('slow done')\n```"


def test_a_chat_with_code_a_chart_and_a_download(system: Distributed) -> None:
    code = (
        "```python\nimport matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [3, 5])\n"
        "plt.savefig('bars.png')\nprint(3 + 5)\n```"
    )
    with system.client() as client:
        response = client.post("/api/chat", json={"message": code}, timeout=60)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "8" in body["message"]
        (image,) = body["files"]
        assert body["annotations"][0]["text"] == "bars.png"
        download = client.get(f"/api/file/{image['file_id']}")
        assert download.status_code == 200
        assert download.content.startswith(b"\x89PNG")
        messages = client.get(f"/api/thread/{body['thread_id']}/messages").json()["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"]


def test_an_uploaded_file_is_analyzed_in_the_sandbox(system: Distributed) -> None:
    with system.client() as client:
        upload = client.post(
            "/api/upload", files={"file": ("nums.csv", b"x,y\n1,2\n2,4\n3,7\n", "text/csv")}
        )
        file_id = upload.json()["file_id"]
        code = "```python\nimport pandas as pd\nprint(pd.read_csv('nums.csv')['y'].sum())\n```"
        response = client.post(
            "/api/chat", json={"message": code, "file_ids": [file_id]}, timeout=60
        )
        assert response.status_code == 200, response.text
        assert "13" in response.json()["message"]


def test_run_service_killed_mid_run_ends_the_run_and_never_duplicates_the_answer(
    system: Distributed,
) -> None:
    with system.client() as client:
        thread_id = client.post("/api/thread/create").json()["thread_id"]
        answer = _restart_run_service_during_a_run(system, client, thread_id, SLOW, signal.SIGKILL)

        assert answer.status_code == 500
        assert "Interrupted" in answer.json()["detail"]
        # The thread keeps working: the next message runs in a fresh session.
        after = client.post(
            "/api/chat",
            json={"message": "```python\nprint('back')\n```", "thread_id": thread_id},
            timeout=90,
        )
        assert after.status_code == 200, after.text
        assert "back" in after.json()["message"]
        events = client.get(f"/api/thread/{thread_id}/events").json()["events"]
        types = [e["type"] for e in events]
        assert types.count("run.failed") == 1
        assert types.count("thread.assistant_message_posted") == 1
        assert types.count("run.completed") == 1


def test_sigterm_lets_the_run_in_progress_finish_before_run_service_stops(
    system: Distributed,
) -> None:
    code = "```python\nimport time\ntime.sleep(2)\nprint('finished in time')\n```"
    with system.client() as client:
        thread_id = client.post("/api/thread/create").json()["thread_id"]
        answer = _restart_run_service_during_a_run(system, client, thread_id, code, signal.SIGTERM)

    assert answer.status_code == 200, answer.text
    assert "finished in time" in answer.json()["message"]


def _restart_run_service_during_a_run(
    system: Distributed, client: httpx.Client, thread_id: str, code: str, sig: int
) -> httpx.Response:
    """Chat `code` on the thread; once its run started, stop run-service with `sig` and start
    it again; the chat's response."""
    answers: list[httpx.Response] = []

    def ask() -> None:
        body = {"message": code, "thread_id": thread_id}
        answers.append(client.post("/api/chat", json=body, timeout=90))

    asking = threading.Thread(target=ask)
    asking.start()
    _wait_for_event(client, thread_id, "run.started")
    system.restart("run-service", sig)
    asking.join(90)
    (answer,) = answers
    return answer


def _wait_for_event(client: httpx.Client, thread_id: str, event_type: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = client.get(f"/api/thread/{thread_id}/events").json().get("events", [])
        if any(e["type"] == event_type for e in events):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {event_type} in {thread_id} within 30 s")
