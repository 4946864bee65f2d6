"""Gateway, thread-service and relay as separate OS processes on PostgreSQL and RabbitMQ."""

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from contracts.envelope import Envelope
from contracts.threads import PostUserMessage
from tests.e2e.conftest import Distributed
from tests.e2e.processes import run_to_completion

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.rabbitmq]


def eventually(check: Callable[[], None], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_created_thread_reads_back_at_once_with_its_messages(system: Distributed) -> None:
    with system.client() as http:
        assert http.get("/").json() == {"message": "OpenAI Code Interpreter Explorer API"}
        for _ in range(5):  # read-your-writes, every time, not just once
            created = http.post("/api/thread/create")
            assert created.status_code == 200, created.text
            thread_id = created.json()["thread_id"]
            assert http.get(f"/api/thread/{thread_id}/messages").json() == {"messages": []}
        for text in ("one", "two", "three"):
            posted = http.post(f"/api/thread/{thread_id}/messages", json={"content": text})
            assert posted.status_code == 200, posted.text
        messages = http.get(f"/api/thread/{thread_id}/messages").json()["messages"]
        assert [m["content"] for m in messages] == ["one", "two", "three"]
        events = http.get(f"/api/thread/{thread_id}/events").json()["events"]
        assert [e["version"] for e in events] == [0, 1, 2, 3]


def test_errors_keep_their_shape_across_processes(system: Distributed) -> None:
    with system.client() as http:
        missing = http.get("/api/thread/thread_nothere/messages")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Thread thread_nothere not found"}
        refused = http.post("/api/thread/thread_nothere/messages", json={"content": "x"})
        assert refused.status_code == 404
        assert http.get("/api/thread/bad-id/messages").status_code == 400


def test_events_written_elsewhere_reach_the_gateway_through_relay_and_bus(
    system: Distributed,
) -> None:
    """A command sent straight to thread-service (not via the gateway): the gateway's read
    model learns of it only through the relay, RabbitMQ and its projection consumer."""
    from eventkit.bus_rabbit import RabbitBus

    with system.client() as http:
        thread_id = http.post("/api/thread/create").json()["thread_id"]

    async def post_directly() -> None:
        payload = PostUserMessage(
            thread_id=thread_id, message_id="msg_direct1", content="side door"
        )
        command = Envelope(
            message_id=uuid.uuid4(),
            type=payload.type,
            stream_id=thread_id,
            correlation_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            payload=payload.model_dump(mode="json"),
        )
        async with RabbitBus.connect(system.env["CIE_AMQP_URL"]) as bus:
            reply = await bus.send(command, timeout=20)
        assert reply.ok, reply

    asyncio.run(post_directly())

    def shows_it() -> None:
        with system.client() as http:
            messages = http.get(f"/api/thread/{thread_id}/messages").json()["messages"]
        assert [m["content"] for m in messages] == ["side door"]

    eventually(shows_it)


def test_thread_service_killed_and_restarted_loses_nothing(system: Distributed) -> None:
    with system.client() as http:
        thread_id = http.post("/api/thread/create").json()["thread_id"]
        http.post(f"/api/thread/{thread_id}/messages", json={"content": "before"})
        system.restart("thread-service")
        posted = None
        for _ in range(100):
            posted = http.post(f"/api/thread/{thread_id}/messages", json={"content": "after"})
            if posted.status_code == 200:
                break
            time.sleep(0.2)
        assert posted is not None
        assert posted.status_code == 200, posted.text
        contents = [
            m["content"] for m in http.get(f"/api/thread/{thread_id}/messages").json()["messages"]
        ]
        assert contents[0] == "before"
        assert "after" in contents


def test_replay_rebuilds_the_view_and_finds_it_equal(system: Distributed) -> None:
    with system.client() as http:
        thread_id = http.post("/api/thread/create").json()["thread_id"]
        http.post(f"/api/thread/{thread_id}/messages", json={"content": "replay me"})
    replayed = run_to_completion("gateway.replay", system.env)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "matches the event store" in replayed.stdout
