"""The use cases against the in-memory store: given a history, when a command, then events."""

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

from contracts.envelope import Envelope
from contracts.threads import CreateThread, PostUserMessage
from eventkit.store_memory import InMemoryEventStore
from thread_service.service import Threads

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def command(payload: CreateThread | PostUserMessage) -> Envelope:
    return Envelope(
        message_id=uuid4(),
        type=payload.type,
        stream_id=payload.thread_id,
        correlation_id=uuid4(),
        occurred_at=NOW,
        payload=payload.model_dump(mode="json"),
    )


def make() -> tuple[Threads, InMemoryEventStore]:
    store = InMemoryEventStore()
    return Threads(store, lambda: NOW), store


async def test_create_then_post_appends_both_events_with_causation() -> None:
    threads, store = make()
    create = command(CreateThread(thread_id="thread_a"))
    reply = await threads.handle(create)
    assert reply.ok
    assert reply.stream_version == 0
    post = command(PostUserMessage(thread_id="thread_a", message_id="msg_1", content="hello"))
    reply = await threads.handle(post)
    assert reply.ok
    assert reply.stream_version == 1
    events = await store.read_stream("thread_a")
    assert [e.event_type for e in events] == ["thread.created", "thread.user_message_posted"]
    assert events[1].data["content"] == "hello"
    assert events[1].metadata["causation_id"] == str(post.message_id)
    assert events[1].metadata["correlation_id"] == str(post.correlation_id)


async def test_a_redelivered_command_appends_nothing_and_gets_the_same_reply() -> None:
    threads, store = make()
    create = command(CreateThread(thread_id="thread_a"))
    first = await threads.handle(create)
    again = await threads.handle(create)
    assert again == first
    assert len(await store.read_stream("thread_a")) == 1


async def test_posting_to_an_unknown_thread_is_refused_without_events() -> None:
    threads, store = make()
    post = command(PostUserMessage(thread_id="thread_zz", message_id="msg_1", content="hi"))
    reply = await threads.handle(post)
    assert not reply.ok
    assert reply.error_code == "thread_not_found"
    assert reply.detail == "Thread thread_zz not found"
    assert await store.head_position() == 0


async def test_a_malformed_command_is_refused_not_raised() -> None:
    threads, _ = make()
    bad = Envelope(
        message_id=uuid4(),
        type="thread.create",
        stream_id="x",
        correlation_id=uuid4(),
        occurred_at=NOW,
        payload={"thread_id": "../../etc"},
    )
    reply = await threads.handle(bad)
    assert not reply.ok
    assert reply.error_code == "invalid_command"
    unknown = bad.model_copy(update={"type": "thread.explode"})
    assert (await threads.handle(unknown)).error_code == "invalid_command"


async def test_concurrent_posts_to_one_thread_all_land_in_order_of_versions() -> None:
    threads, store = make()
    await threads.handle(command(CreateThread(thread_id="thread_a")))
    posts = [
        command(PostUserMessage(thread_id="thread_a", message_id=f"msg_{i}", content=str(i)))
        for i in range(20)
    ]
    replies = await asyncio.gather(*(threads.handle(post) for post in posts))
    assert all(reply.ok for reply in replies)
    events = await store.read_stream("thread_a")
    assert [e.stream_version for e in events] == list(range(21))
    assert sorted(e.data["content"] for e in events[1:]) == sorted(str(i) for i in range(20))
