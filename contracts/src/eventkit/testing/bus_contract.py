"""The behaviour every EventBus and CommandBus adapter must show.

Subclass `BusContract` and define a `bus` fixture (EventBus) and a `commands` fixture
(CommandBus) for the adapter under test. Queue names are random per test.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from contracts.envelope import Envelope
from contracts.replies import CommandReply
from eventkit.bus import CommandBus, CommandTimeout, EventBus

WAIT = 10.0


def envelope(message_type: str, stream_id: str = "test_1", version: int | None = 0) -> Envelope:
    """An event (or, with version None, command) envelope with fresh ids."""
    return Envelope(
        message_id=uuid4(),
        type=message_type,
        stream_id=stream_id,
        stream_version=version,
        global_position=None if version is None else version + 1,
        correlation_id=uuid4(),
        occurred_at=datetime.now(UTC),
        payload={"n": version, "text": "héllo"},
    )


async def eventually(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    """Wait until `condition()` holds, failing after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def unique(prefix: str) -> str:
    """A queue or routing-key word nobody else uses."""
    return f"{prefix}{uuid4().hex[:12]}"


class BusContract:
    """Subclass and provide `bus` and `commands` fixtures."""

    @pytest.fixture
    def bus(self) -> EventBus:
        raise NotImplementedError

    @pytest.fixture
    def commands(self) -> CommandBus:
        raise NotImplementedError

    async def test_published_event_reaches_a_matching_subscriber_intact(
        self, bus: EventBus
    ) -> None:
        topic, received = unique("t"), []

        async def handle(message: Envelope) -> None:
            received.append(message)

        await bus.subscribe(unique("q."), [f"{topic}.*"], handle, prefetch=10)
        sent = envelope(f"{topic}.created")
        await bus.publish([sent])
        await eventually(lambda: len(received) == 1)
        assert received[0] == sent

    async def test_routing_keys_filter_what_a_queue_gets(self, bus: EventBus) -> None:
        topic, received = unique("t"), []

        async def handle(message: Envelope) -> None:
            received.append(message.type)

        async def ignore(message: Envelope) -> None:
            pass

        await bus.subscribe(unique("q."), [f"{topic}.wanted"], handle, prefetch=10)
        # Someone must take `.other`: an event no queue is bound for may be refused
        # (RabbitMQ publishes with `mandatory`), which is not what this test is about.
        await bus.subscribe(unique("q."), [f"{topic}.other"], ignore, prefetch=10)
        await bus.publish([envelope(f"{topic}.other"), envelope(f"{topic}.wanted")])
        await eventually(lambda: received == [f"{topic}.wanted"])
        await asyncio.sleep(0.2)
        assert received == [f"{topic}.wanted"]

    async def test_each_queue_gets_its_own_copy(self, bus: EventBus) -> None:
        topic = unique("t")
        first: list[Envelope] = []
        second: list[Envelope] = []

        async def to_first(message: Envelope) -> None:
            first.append(message)

        async def to_second(message: Envelope) -> None:
            second.append(message)

        await bus.subscribe(unique("q."), [f"{topic}.#"], to_first, prefetch=10)
        await bus.subscribe(unique("q."), [f"{topic}.#"], to_second, prefetch=10)
        await bus.publish([envelope(f"{topic}.x")])
        await eventually(lambda: len(first) == 1 and len(second) == 1)

    async def test_consumers_of_one_queue_share_its_messages(self, bus: EventBus) -> None:
        topic, queue = unique("t"), unique("q.")
        seen: list[tuple[str, int]] = []

        def handler(name: str):  # type: ignore[no-untyped-def]
            async def handle(message: Envelope) -> None:
                seen.append((name, message.stream_version or 0))

            return handle

        await bus.subscribe(queue, [f"{topic}.*"], handler("a"), prefetch=1)
        await bus.subscribe(queue, [f"{topic}.*"], handler("b"), prefetch=1)
        await bus.publish([envelope(f"{topic}.e", version=i) for i in range(20)])
        await eventually(lambda: len(seen) == 20)
        await asyncio.sleep(0.2)
        assert sorted(version for _, version in seen) == list(range(20))

    async def test_failing_handler_gets_the_message_again(self, bus: EventBus) -> None:
        topic, attempts = unique("t"), []

        async def flaky(message: Envelope) -> None:
            attempts.append(message.message_id)
            if len(attempts) < 3:
                raise RuntimeError("transient")

        await bus.subscribe(unique("q."), [f"{topic}.*"], flaky, prefetch=1)
        sent = envelope(f"{topic}.x")
        await bus.publish([sent])
        await eventually(lambda: len(attempts) >= 3)
        assert set(attempts) == {sent.message_id}

    async def test_poison_message_is_dead_lettered_and_does_not_block_the_queue(
        self, bus: EventBus
    ) -> None:
        topic, queue = unique("t"), unique("q.")
        good: list[Envelope] = []
        poison = envelope(f"{topic}.poison")

        async def handle(message: Envelope) -> None:
            if message.type.endswith("poison"):
                raise ValueError("cannot handle this one, ever")
            good.append(message)

        await bus.subscribe(queue, [f"{topic}.*"], handle, prefetch=1)
        await bus.publish([poison, envelope(f"{topic}.fine")])
        await eventually(lambda: len(good) == 1)
        dead: list[Envelope] = []

        async def collect() -> bool:
            dead.extend(await bus.drain_dead_letters(queue))
            return bool(dead)

        async with asyncio.timeout(WAIT):
            while not await collect():
                await asyncio.sleep(0.05)
        assert [message.message_id for message in dead] == [poison.message_id]

    async def test_unsubscribe_lets_the_running_handler_finish_and_leaves_the_rest_queued(
        self, bus: EventBus
    ) -> None:
        topic, queue = unique("t"), unique("q.")
        release = asyncio.Event()
        first: list[int] = []
        later: list[int] = []

        async def slow(message: Envelope) -> None:
            first.append(message.stream_version or 0)
            await release.wait()

        async def take(message: Envelope) -> None:
            later.append(message.stream_version or 0)

        await bus.subscribe(queue, [f"{topic}.*"], slow, prefetch=1)
        await bus.publish([envelope(f"{topic}.e", version=1)])
        await eventually(lambda: first == [1])
        leaving = asyncio.create_task(bus.unsubscribe(queue, grace=WAIT))
        await asyncio.sleep(0.3)
        assert not leaving.done(), "unsubscribe must wait for the handler that is running"
        await bus.publish([envelope(f"{topic}.e", version=2)])
        release.set()
        await leaving
        assert first == [1], "no delivery after unsubscribe"
        await bus.subscribe(queue, [f"{topic}.*"], take, prefetch=1)
        await eventually(lambda: later == [2])
        await asyncio.sleep(0.2)
        assert later == [2], "the finished message was acked, not handed on again"

    async def test_a_cancelled_unsubscribe_still_stops_the_consumer(self, bus: EventBus) -> None:
        """Shutdown may cancel a give-back half-way; the consumer must not linger."""
        topic, queue = unique("t"), unique("q.")
        release = asyncio.Event()
        seen: list[int] = []
        finished: list[int] = []

        async def slow(message: Envelope) -> None:
            seen.append(message.stream_version or 0)
            await release.wait()
            finished.append(message.stream_version or 0)

        await bus.subscribe(queue, [f"{topic}.*"], slow, prefetch=2)
        await bus.publish([envelope(f"{topic}.e", version=1)])
        await eventually(lambda: seen == [1])
        leaving = asyncio.create_task(bus.unsubscribe(queue, grace=WAIT))
        await asyncio.sleep(0.2)
        leaving.cancel()
        await bus.publish([envelope(f"{topic}.e", version=2)])
        await asyncio.sleep(0.3)
        assert seen == [1], "no delivery after unsubscribe, cancelled or not"
        release.set()
        await eventually(lambda: finished == [1])

    async def test_a_declared_queue_keeps_what_arrives_before_its_consumer(
        self, bus: EventBus
    ) -> None:
        topic, queue, received = unique("t"), unique("q."), []

        async def handle(message: Envelope) -> None:
            received.append(message.stream_version)

        await bus.declare(queue, [f"{topic}.*"], single_active=True)
        await bus.publish([envelope(f"{topic}.e", version=i) for i in range(3)])
        await bus.subscribe(queue, [f"{topic}.*"], handle, prefetch=1, single_active=True)
        await eventually(lambda: received == [0, 1, 2])

    async def test_command_gets_the_reply_of_its_handler(self, commands: CommandBus) -> None:
        topic = unique("c")

        async def handle(command: Envelope) -> CommandReply:
            return CommandReply(ok=True, stream_id=command.stream_id, stream_version=3)

        await commands.serve(unique("svc."), [f"{topic}.*"], handle, prefetch=4)
        replies = await asyncio.gather(
            *(
                commands.send(
                    envelope(f"{topic}.do", stream_id=f"s_{i}", version=None), timeout=WAIT
                )
                for i in range(5)
            )
        )
        assert [reply.stream_id for reply in replies] == [f"s_{i}" for i in range(5)]
        assert all(reply.ok and reply.stream_version == 3 for reply in replies)

    async def test_command_without_a_timely_reply_times_out(self, commands: CommandBus) -> None:
        topic = unique("c")

        async def slow(command: Envelope) -> CommandReply:
            await asyncio.sleep(1.0)
            return CommandReply(ok=True, stream_id=command.stream_id)

        await commands.serve(unique("svc."), [f"{topic}.*"], slow, prefetch=1)
        with pytest.raises(CommandTimeout):
            await commands.send(envelope(f"{topic}.do", version=None), timeout=0.2)
