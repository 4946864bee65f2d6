"""The outbox relay: publishes what committed, in order, and loses nothing across failures."""

import asyncio
import contextlib
from collections.abc import Sequence
from uuid import uuid4

import pytest

from contracts.envelope import Envelope
from contracts.routing import QueueSpec
from eventkit.bus import PublishError
from eventkit.bus_memory import InMemoryEventBus
from eventkit.relay import Relay
from eventkit.store import NO_STREAM, NewEvent
from eventkit.store_memory import InMemoryCheckpointStore, InMemoryEventStore


class FlakyBus(InMemoryEventBus):
    """A bus whose publishes fail while `down` is set (a broker outage), recording the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.published: list[Envelope] = []

    async def publish(self, events: Sequence[Envelope]) -> None:
        if self.down:
            raise PublishError("broker unreachable")
        self.published.extend(events)
        await super().publish(events)


async def append(store: InMemoryEventStore, stream: str, count: int) -> None:
    events = [NewEvent(uuid4(), "test.happened", {"i": i}) for i in range(count)]
    await store.append(stream, events, expected_version=None)


async def test_publishes_committed_events_in_position_order_then_checkpoints() -> None:
    store, bus, checkpoints = InMemoryEventStore(), FlakyBus(), InMemoryCheckpointStore()
    await append(store, "test_a", 3)
    await append(store, "test_b", 2)
    relay = Relay(store, bus, checkpoints, batch_size=2)
    assert await relay.publish_pending() == 5
    assert [e.global_position for e in bus.published] == [1, 2, 3, 4, 5]
    assert [e.stream_version for e in bus.published] == [0, 1, 2, 0, 1]
    assert await checkpoints.load("relay") == 5
    assert await relay.publish_pending() == 0


async def test_a_failed_publish_does_not_move_the_checkpoint_and_is_retried() -> None:
    store, bus, checkpoints = InMemoryEventStore(), FlakyBus(), InMemoryCheckpointStore()
    await append(store, "test_a", 3)
    relay = Relay(store, bus, checkpoints)
    bus.down = True
    with pytest.raises(PublishError):
        await relay.publish_pending()
    assert await checkpoints.load("relay") == 0
    bus.down = False
    assert await relay.publish_pending() == 3
    assert [e.global_position for e in bus.published] == [1, 2, 3]


async def test_a_relay_dying_before_its_checkpoint_republishes_rather_than_loses() -> None:
    store, bus, checkpoints = InMemoryEventStore(), FlakyBus(), InMemoryCheckpointStore()
    await append(store, "test_a", 2)

    class DiesBeforeCheckpoint(InMemoryCheckpointStore):
        async def save(self, name: str, position: int) -> None:
            raise RuntimeError("process killed")

    with pytest.raises(RuntimeError):
        await Relay(store, bus, DiesBeforeCheckpoint()).publish_pending()
    await Relay(store, bus, checkpoints).publish_pending()  # the restarted relay
    ids = [e.message_id for e in bus.published]
    assert len(ids) == 4
    assert len(set(ids)) == 2  # duplicates (consumers dedupe), nothing missing


async def test_envelopes_carry_the_stored_metadata() -> None:
    store, bus, checkpoints = InMemoryEventStore(), FlakyBus(), InMemoryCheckpointStore()
    correlation, cause = uuid4(), uuid4()
    event = NewEvent(
        uuid4(),
        "test.happened",
        {"x": 1},
        {"correlation_id": str(correlation), "causation_id": str(cause), "occurred_at": None},
    )
    await store.append("test_a", [event], expected_version=NO_STREAM)
    await Relay(store, bus, checkpoints).publish_pending()
    (sent,) = bus.published
    assert sent.message_id == event.event_id
    assert sent.correlation_id == correlation
    assert sent.causation_id == cause
    assert sent.type == "test.happened"
    assert sent.payload == {"x": 1}


async def test_running_relay_recovers_after_an_outage_and_publishes_new_events() -> None:
    store, bus, checkpoints = InMemoryEventStore(), FlakyBus(), InMemoryCheckpointStore()
    relay = Relay(store, bus, checkpoints)
    bus.down = True
    running = asyncio.create_task(relay.run(poll_interval=0.01, max_backoff=0.05))
    try:
        await append(store, "test_a", 2)
        await asyncio.sleep(0.1)
        assert bus.published == []
        bus.down = False
        await append(store, "test_b", 1)
        relay.wake()
        async with asyncio.timeout(5):
            while len(bus.published) < 3:
                await asyncio.sleep(0.01)
        assert [e.global_position for e in bus.published] == [1, 2, 3]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_a_throttled_checkpoint_is_saved_when_the_relay_stops() -> None:
    store, bus, checkpoints = InMemoryEventStore(), FlakyBus(), InMemoryCheckpointStore()
    relay = Relay(store, bus, checkpoints, checkpoint_every_s=3600)
    await append(store, "test_a", 2)
    await relay.publish_pending()  # the first save is due at once
    await append(store, "test_a", 3)
    assert await relay.publish_pending() == 3
    assert await checkpoints.load("relay") == 2  # not yet: at most once an hour

    running = asyncio.create_task(relay.run(poll_interval=60))
    await asyncio.sleep(0.05)
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running

    assert await checkpoints.load("relay") == 5


async def test_the_relay_declares_its_queues_so_nothing_published_before_a_consumer_is_lost() -> (
    None
):
    store, bus, checkpoints = InMemoryEventStore(), InMemoryEventBus(), InMemoryCheckpointStore()
    spec = QueueSpec("late-consumer", ("test.*",))
    relay = Relay(store, bus, checkpoints, queues=[spec])
    await append(store, "test_a", 2)
    assert await relay.publish_pending() == 2  # nobody consumes yet
    received: list[int] = []

    async def handle(message: Envelope) -> None:
        received.append(message.global_position or 0)

    await bus.subscribe(spec.name, spec.binding_keys, handle, prefetch=1)
    async with asyncio.timeout(5):
        while len(received) < 2:
            await asyncio.sleep(0.01)
    assert received == [1, 2]
    await bus.close()
