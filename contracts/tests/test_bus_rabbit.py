"""RabbitBus against a real broker: the bus contract plus RabbitMQ-specific guarantees."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from aio_pika.exceptions import ChannelPreconditionFailed

from contracts import routing
from contracts.envelope import Envelope
from contracts.replies import CommandReply
from eventkit.bus import BusError, CommandBus, CommandTimeout, EventBus, PublishError
from eventkit.bus_rabbit import RabbitBus
from eventkit.bus_rabbit_topology import consumer_queue_arguments
from eventkit.testing.bus_contract import WAIT, BusContract, envelope, eventually, unique

pytestmark = pytest.mark.rabbitmq

LIMIT = 3
# Test queues delete themselves 20 s after their last use, so repeated runs leave nothing.
EXPIRES: dict[str, Any] = {"x-expires": 20_000}


def connect(url: str, **options: Any) -> contextlib.AbstractAsyncContextManager[RabbitBus]:
    """A bus with the test queue arguments."""
    options.setdefault("delivery_limit", LIMIT)
    return RabbitBus.connect(url, queue_arguments=EXPIRES, **options)


class TestRabbitBus(BusContract):
    @pytest.fixture
    async def bus(self, amqp_url: str) -> AsyncIterator[EventBus]:
        async with connect(amqp_url) as bus:
            yield bus

    @pytest.fixture
    async def commands(self, amqp_url: str) -> AsyncIterator[CommandBus]:
        async with connect(amqp_url) as bus:
            yield bus


@pytest.fixture
async def rabbit(amqp_url: str) -> AsyncIterator[RabbitBus]:
    async with connect(amqp_url) as bus:
        yield bus


@pytest.fixture
async def raw(amqp_url: str) -> AsyncIterator[AbstractChannel]:
    """A plain channel to look at the broker from outside the bus."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        yield await connection.channel()


async def collect_until(count: int, into: list[Any]) -> None:
    await eventually(lambda: len(into) >= count)


async def test_messages_are_persistent_and_carry_the_envelope_metadata(
    rabbit: RabbitBus, raw: AbstractChannel
) -> None:
    topic = unique("t")
    probe = await raw.declare_queue(exclusive=True)
    await probe.bind(routing.EVENTS_EXCHANGE, f"{topic}.#")
    sent = envelope(f"{topic}.created", version=4)

    await rabbit.publish([sent])

    message = await probe.get(timeout=WAIT)
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.content_type == "application/json"
    assert message.message_id == str(sent.message_id)
    assert message.type == sent.type
    assert message.correlation_id == str(sent.correlation_id)
    assert message.timestamp is not None
    assert message.headers == {
        "x-stream-id": sent.stream_id,
        "x-stream-version": 4,
        "x-global-position": 5,
        "x-schema-version": sent.schema_version,
    }
    assert Envelope.model_validate_json(message.body) == sent


async def test_consumer_queue_is_quorum_with_delivery_limit_and_its_own_dead_letter_queue(
    rabbit: RabbitBus, raw: AbstractChannel, amqp_url: str
) -> None:
    queue = unique("q.")

    async def ignore(_: Envelope) -> None:
        pass

    await rabbit.subscribe(queue, [f"{unique('t')}.*"], ignore, prefetch=1)

    # The broker accepts a redeclaration only if the arguments are equivalent, so this
    # succeeding shows the queue has exactly these (quorum, limit, DLX, strategy...).
    expected = consumer_queue_arguments(queue, delivery_limit=LIMIT, extra=EXPIRES)
    assert expected["x-queue-type"] == "quorum"
    assert expected["x-delivery-limit"] == LIMIT - 1
    assert expected["x-dead-letter-routing-key"] == f"{queue}.dlq"
    await raw.declare_queue(queue, durable=True, arguments=expected)
    await raw.declare_queue(f"{queue}.dlq", passive=True)
    with pytest.raises(ChannelPreconditionFailed):
        await raw.declare_queue(queue, durable=True, arguments={**expected, "x-delivery-limit": 9})

    # Another process declaring the same queue the same way is fine; a different limit is not.
    async with connect(amqp_url) as other:
        await other.subscribe(queue, ["whatever.*"], ignore, prefetch=1)
    async with connect(amqp_url, delivery_limit=LIMIT + 1) as other:
        with pytest.raises(BusError):
            await other.subscribe(queue, ["whatever.*"], ignore, prefetch=1)


async def test_delivery_limit_counts_every_failed_delivery_then_dead_letters(
    rabbit: RabbitBus, raw: AbstractChannel
) -> None:
    topic, queue, bystander = unique("t"), unique("q."), unique("q.")
    attempts: list[Envelope] = []
    delivered: list[Envelope] = []

    async def always_fails(message: Envelope) -> None:
        attempts.append(message)
        raise RuntimeError("poison")

    async def fine(message: Envelope) -> None:
        delivered.append(message)

    await rabbit.subscribe(queue, [f"{topic}.*"], always_fails, prefetch=1)
    await rabbit.subscribe(bystander, [f"{topic}.*"], fine, prefetch=1)
    poison = envelope(f"{topic}.poison")
    await rabbit.publish([poison])

    dlq = await raw.declare_queue(f"{queue}.dlq", passive=True)
    async with asyncio.timeout(WAIT):
        while (dead := await dlq.get(fail=False)) is None:
            await asyncio.sleep(0.05)
    # reject(requeue=True) is counted by the quorum queue: exactly LIMIT deliveries in total.
    await asyncio.sleep(0.3)
    assert len(attempts) == LIMIT
    assert dead.headers["x-first-death-reason"] == "delivery_limit"
    assert dead.headers["x-first-death-queue"] == queue
    assert Envelope.model_validate_json(dead.body) == poison
    await dead.nack(requeue=True)
    # It landed in its own queue's DLQ only; drain takes it out.
    assert await rabbit.drain_dead_letters(bystander) == []
    assert [m.message_id for m in await rabbit.drain_dead_letters(queue)] == [poison.message_id]
    assert await rabbit.drain_dead_letters(queue) == []
    assert [m.message_id for m in delivered] == [poison.message_id]


async def test_malformed_message_is_dead_lettered_at_once_and_kept_by_drain(
    rabbit: RabbitBus, raw: AbstractChannel
) -> None:
    topic, queue, calls = unique("t"), unique("q."), []

    async def handle(message: Envelope) -> None:
        calls.append(message)

    await rabbit.subscribe(queue, [f"{topic}.*"], handle, prefetch=1)
    exchange = await raw.get_exchange(routing.EVENTS_EXCHANGE)
    await exchange.publish(aio_pika.Message(b"not an envelope"), f"{topic}.bad")

    async def dead_letters() -> int:
        declared = await raw.declare_queue(f"{queue}.dlq", passive=True)
        return int(declared.declaration_result.message_count or 0)

    async with asyncio.timeout(WAIT):
        while await dead_letters() == 0:
            await asyncio.sleep(0.05)
    assert await rabbit.drain_dead_letters(queue) == []
    await asyncio.sleep(0.2)
    assert await dead_letters() == 1, "drain must leave what it cannot parse for an operator"
    assert calls == []


async def test_unroutable_command_raises_but_an_unwanted_event_does_not(
    rabbit: RabbitBus,
) -> None:
    with pytest.raises(PublishError, match="unroutable"):
        await rabbit.send(envelope(f"{unique('c')}.do", version=None), timeout=WAIT)
    # An event no queue wants is still a confirmed publish: the relay must not stall on it.
    await rabbit.publish([envelope(f"{unique('t')}.nobody_listens")])


async def test_prefetch_bounds_concurrent_handlers(rabbit: RabbitBus) -> None:
    topic, running, peak, done = unique("t"), 0, 0, []
    release = asyncio.Event()

    async def slow(message: Envelope) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        done.append(message)

    await rabbit.subscribe(unique("q."), [f"{topic}.*"], slow, prefetch=2)
    await rabbit.publish([envelope(f"{topic}.e", version=i) for i in range(6)])
    await eventually(lambda: running == 2)
    await asyncio.sleep(0.3)
    assert peak == 2
    release.set()
    await collect_until(6, done)


async def test_single_active_consumer_gets_everything_until_it_leaves(amqp_url: str) -> None:
    topic, queue = unique("t"), unique("q.")
    got: dict[str, list[int]] = {"a": [], "b": []}

    def taker(name: str):  # type: ignore[no-untyped-def]
        async def take(message: Envelope) -> None:
            got[name].append(message.stream_version or 0)

        return take

    async with connect(amqp_url) as a, connect(amqp_url) as b:
        await a.subscribe(queue, [f"{topic}.*"], taker("a"), prefetch=5, single_active=True)
        await b.subscribe(queue, [f"{topic}.*"], taker("b"), prefetch=5, single_active=True)
        await a.publish([envelope(f"{topic}.e", version=i) for i in range(10)])
        await eventually(lambda: len(got["a"]) == 10)
        await a.unsubscribe(queue)
        await a.publish([envelope(f"{topic}.e", version=i) for i in range(10, 15)])
        await eventually(lambda: len(got["b"]) == 5)
    assert got == {"a": list(range(10)), "b": list(range(10, 15))}


async def test_partitioned_run_requests_reach_only_their_partition_queue(
    rabbit: RabbitBus,
) -> None:
    """Run requests are routed by thread: one partition queue gets them, in order."""
    thread = unique("thread_")
    partition = routing.run_partition(thread)
    # Only this partition's key, on test queues (so other tests' runs cannot arrive here).
    queue, other = unique("q."), unique("q.")
    got: list[int] = []
    stray: list[Envelope] = []

    async def take(message: Envelope) -> None:
        if message.stream_id == thread:
            got.append(message.stream_version or 0)

    async def wrong(message: Envelope) -> None:
        if message.stream_id == thread:
            stray.append(message)

    await rabbit.subscribe(queue, routing.run_partition_keys(partition), take, prefetch=1)
    wrong_partition = (partition + 1) % routing.RUN_PARTITIONS
    await rabbit.subscribe(other, routing.run_partition_keys(wrong_partition), wrong, prefetch=1)
    await rabbit.publish(
        [envelope(routing.RUN_REQUESTED, stream_id=thread, version=i) for i in range(5)]
    )
    await eventually(lambda: got == list(range(5)))
    await asyncio.sleep(0.2)
    assert stray == []


class DedupingHandler:
    """A consumer that applies each message_id's effect once, however often it arrives."""

    def __init__(self, block_first: bool = False) -> None:
        self.deliveries: list[Envelope] = []
        self.effects: list[Envelope] = []
        self._applied: set[object] = set()
        self._block_first = block_first
        self.blocked = asyncio.Event()

    async def __call__(self, message: Envelope) -> None:
        self.deliveries.append(message)
        if message.message_id in self._applied:
            return  # a redelivery: the effect is already there
        self._applied.add(message.message_id)
        self.effects.append(message)
        if self._block_first and len(self.deliveries) == 1:
            # Effect done, ack not sent yet: the window in which a crash causes redelivery.
            self.blocked.set()
            await asyncio.Event().wait()


async def test_consumer_that_dies_before_acking_gets_its_message_redelivered_elsewhere(
    amqp_url: str,
) -> None:
    topic, queue = unique("t"), unique("q.")
    handler = DedupingHandler(block_first=True)
    async with connect(amqp_url) as survivor:
        async with connect(amqp_url) as doomed:
            await doomed.subscribe(queue, [f"{topic}.*"], handler, prefetch=1)
            await survivor.publish([envelope(f"{topic}.e")])
            async with asyncio.timeout(WAIT):
                await handler.blocked.wait()
            await survivor.subscribe(queue, [f"{topic}.*"], handler, prefetch=1)
            await asyncio.sleep(0.2)
            assert len(handler.deliveries) == 1, "unacked, so nobody else gets it yet"
            # Dies without acking: the in-flight handler is abandoned and the connection goes.
            await doomed.close(grace=0)
        await collect_until(2, handler.deliveries)
        await asyncio.sleep(0.2)
    assert handler.deliveries[0] == handler.deliveries[1]
    assert len(handler.deliveries) == 2
    assert len(handler.effects) == 1


class Proxy:
    """A TCP proxy to the broker whose connections the test can cut, like a network failure."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 5672)
        self._url = parts
        self._links: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        credentials, _, _ = self._url.netloc.rpartition("@")
        netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
        # Reconnect quickly (aio-pika's default waits 5 s between attempts).
        return urlunsplit(self._url._replace(netloc=netloc, query="reconnect_interval=0.2"))

    async def __aexit__(self, *_: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()

    def cut(self) -> None:
        """Reset every open connection; new ones are still accepted."""
        for writer in self._links:
            writer.transport.abort()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._links += [writer, up_writer]
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()


async def test_lost_connection_is_restored_and_the_unacked_message_redelivered(
    amqp_url: str,
) -> None:
    topic, queue = unique("t"), unique("q.")
    handler = DedupingHandler(block_first=True)
    proxy = Proxy(amqp_url)
    async with proxy as url, connect(url) as bus:
        await bus.subscribe(queue, [f"{topic}.*"], handler, prefetch=1)
        await bus.publish([envelope(f"{topic}.e")])
        async with asyncio.timeout(WAIT):
            await handler.blocked.wait()

        # Robust connection: it reconnects, redeclares, re-consumes; the broker redelivers.
        proxy.cut()
        await collect_until(2, handler.deliveries)
        # And the restored connection publishes and consumes normally.
        await bus.publish([envelope(f"{topic}.after")])
        await collect_until(3, handler.deliveries)
    assert len(handler.effects) == 2


async def test_command_is_handled_even_when_its_sender_has_gone(amqp_url: str) -> None:
    topic, handled = unique("c"), []
    release = asyncio.Event()

    async def handle(command: Envelope) -> CommandReply:
        await release.wait()
        handled.append(command)
        return CommandReply(ok=True, stream_id=command.stream_id)

    async with connect(amqp_url) as server:
        await server.serve(unique("svc."), [f"{topic}.*"], handle, prefetch=1)
        async with connect(amqp_url) as sender:
            with pytest.raises(CommandTimeout):
                await sender.send(envelope(f"{topic}.do", version=None), timeout=0.2)
        release.set()
        await collect_until(1, handled)
        await asyncio.sleep(0.3)
        assert len(handled) == 1, "acked after replying into the void, so not redelivered"


async def test_late_reply_is_dropped_and_the_sender_keeps_working(rabbit: RabbitBus) -> None:
    topic, first = unique("c"), asyncio.Event()

    async def handle(command: Envelope) -> CommandReply:
        if command.stream_id == "slow":
            await asyncio.sleep(0.5)
        first.set()
        return CommandReply(ok=True, stream_id=command.stream_id)

    await rabbit.serve(unique("svc."), [f"{topic}.*"], handle, prefetch=2)
    with pytest.raises(CommandTimeout):
        await rabbit.send(envelope(f"{topic}.do", "slow", version=None), timeout=0.1)
    reply = await rabbit.send(envelope(f"{topic}.do", "fast", version=None), timeout=WAIT)
    assert reply.stream_id == "fast"
    await asyncio.sleep(0.6)  # the slow reply arrives now, with nobody waiting
    reply = await rabbit.send(envelope(f"{topic}.do", "again", version=None), timeout=WAIT)
    assert reply.stream_id == "again"


async def test_close_lets_running_handlers_finish_and_ack(amqp_url: str) -> None:
    topic, queue, done = unique("t"), unique("q."), []
    started = asyncio.Event()

    async def slow(message: Envelope) -> None:
        started.set()
        await asyncio.sleep(0.3)
        done.append(message)

    async with connect(amqp_url) as bus:
        await bus.subscribe(queue, [f"{topic}.*"], slow, prefetch=1)
        await bus.publish([envelope(f"{topic}.e")])
        async with asyncio.timeout(WAIT):
            await started.wait()
    assert len(done) == 1

    again: list[Envelope] = []

    async def record(message: Envelope) -> None:
        again.append(message)

    async with connect(amqp_url) as bus:
        await bus.subscribe(queue, [f"{topic}.*"], record, prefetch=1)
        await asyncio.sleep(0.3)
    assert again == [], "it was acked before the connection closed"


async def test_closed_bus_refuses_work(amqp_url: str) -> None:
    async with connect(amqp_url) as bus:
        pass
    with pytest.raises(BusError):
        await bus.publish([envelope("t.x")])


async def test_a_broker_that_never_answers_fails_start_up_with_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BusError, match="does not answer"):
        async with RabbitBus.connect(f"amqp://guest:guest@127.0.0.1:{port}/", startup_timeout=0.5):
            pass
