"""The behaviour every EventStore and CheckpointStore adapter must show.

Subclass `EventStoreContract` in a test module and define a `store` fixture returning a fresh
(or at least isolated) adapter; stream ids are random, so a shared database is fine.
"""

import asyncio
from uuid import uuid4

import pytest

from contracts.runs import CodeExecuted
from eventkit.envelopes import new_event as envelope_event
from eventkit.store import (
    NO_STREAM,
    CheckpointStore,
    ConcurrencyError,
    DuplicateEventError,
    EventStore,
    EventStoreError,
    NewEvent,
    category_of,
)


def new_event(event_type: str = "test.happened", **data: object) -> NewEvent:
    """A NewEvent with a fresh id."""
    return NewEvent(event_id=uuid4(), event_type=event_type, data=dict(data), metadata={"k": "v"})


def new_stream(category: str = "test") -> str:
    """A fresh stream id in `category`."""
    return f"{category}_{uuid4().hex}"


class EventStoreContract:
    """Subclass and provide a `store` fixture."""

    @pytest.fixture
    def store(self) -> EventStore:
        raise NotImplementedError

    async def test_append_to_new_stream_starts_at_version_zero(self, store: EventStore) -> None:
        stream = new_stream()
        result = await store.append(stream, [new_event(n=1)], expected_version=NO_STREAM)
        assert result.stream_version == 0
        events = await store.read_stream(stream)
        assert [e.stream_version for e in events] == [0]
        assert events[0].global_position == result.global_position
        assert events[0].data == {"n": 1}
        assert events[0].metadata == {"k": "v"}
        assert events[0].event_type == "test.happened"
        assert events[0].category == "test"

    async def test_batch_append_gets_consecutive_versions_and_increasing_positions(
        self, store: EventStore
    ) -> None:
        stream = new_stream()
        batch = [new_event(n=i) for i in range(5)]
        result = await store.append(stream, batch, expected_version=NO_STREAM)
        events = await store.read_stream(stream)
        assert [e.stream_version for e in events] == [0, 1, 2, 3, 4]
        assert [e.event_id for e in events] == [e.event_id for e in batch]
        positions = [e.global_position for e in events]
        assert positions == sorted(positions)
        assert len(set(positions)) == 5
        assert result.stream_version == 4
        assert result.global_position == positions[-1]

    async def test_stale_expected_version_raises_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        stream = new_stream()
        await store.append(stream, [new_event()], expected_version=NO_STREAM)
        with pytest.raises(ConcurrencyError) as caught:
            await store.append(stream, [new_event()], expected_version=NO_STREAM)
        assert caught.value.actual == 0
        assert caught.value.expected == NO_STREAM
        with pytest.raises(ConcurrencyError):
            await store.append(stream, [new_event()], expected_version=5)
        assert len(await store.read_stream(stream)) == 1

    async def test_expected_version_on_missing_stream_raises(self, store: EventStore) -> None:
        with pytest.raises(ConcurrencyError):
            await store.append(new_stream(), [new_event()], expected_version=0)

    async def test_none_expected_version_appends_at_the_end(self, store: EventStore) -> None:
        stream = new_stream()
        await store.append(stream, [new_event()], expected_version=None)
        result = await store.append(stream, [new_event()], expected_version=None)
        assert result.stream_version == 1

    async def test_retried_append_of_the_same_events_is_idempotent(self, store: EventStore) -> None:
        stream = new_stream()
        batch = [new_event(n=1), new_event(n=2)]
        first = await store.append(stream, batch, expected_version=NO_STREAM)
        again = await store.append(stream, batch, expected_version=NO_STREAM)
        assert again == first
        assert len(await store.read_stream(stream)) == 2

    async def test_event_id_reused_in_another_stream_is_refused(self, store: EventStore) -> None:
        event = new_event()
        await store.append(new_stream(), [event], expected_version=NO_STREAM)
        with pytest.raises(DuplicateEventError):
            await store.append(new_stream(), [event], expected_version=NO_STREAM)

    async def test_read_stream_from_version_and_limit(self, store: EventStore) -> None:
        stream = new_stream()
        await store.append(stream, [new_event(n=i) for i in range(6)], expected_version=NO_STREAM)
        page = await store.read_stream(stream, from_version=2, limit=3)
        assert [e.stream_version for e in page] == [2, 3, 4]
        assert await store.read_stream(new_stream()) == []

    async def test_read_all_pages_by_position_and_filters_by_category(
        self, store: EventStore
    ) -> None:
        start = await store.head_position()
        first, second = new_stream("alpha"), new_stream("beta")
        await store.append(first, [new_event(n=1)], expected_version=NO_STREAM)
        await store.append(second, [new_event(n=2)], expected_version=NO_STREAM)
        await store.append(first, [new_event(n=3)], expected_version=0)
        seen = await store.read_all(after_position=start, limit=100)
        mine = [e for e in seen if e.stream_id in (first, second)]
        assert [e.data["n"] for e in mine] == [1, 2, 3]
        assert await store.head_position() >= mine[-1].global_position
        one = await store.read_all(after_position=start, limit=1)
        assert len(one) == 1
        alphas = await store.read_all(after_position=start, category="alpha")
        assert all(category_of(e.stream_id) == "alpha" for e in alphas)
        assert [e.data["n"] for e in alphas if e.stream_id == first] == [1, 3]

    async def test_concurrent_appends_with_the_same_expected_version_let_one_win(
        self, store: EventStore
    ) -> None:
        stream = new_stream()
        await store.append(stream, [new_event()], expected_version=NO_STREAM)

        async def attempt() -> bool:
            try:
                await store.append(stream, [new_event()], expected_version=0)
            except ConcurrencyError:
                return False
            return True

        outcomes = await asyncio.gather(*(attempt() for _ in range(8)))
        assert outcomes.count(True) == 1
        assert [e.stream_version for e in await store.read_stream(stream)] == [0, 1]

    async def test_unicode_and_nested_payloads_round_trip(self, store: EventStore) -> None:
        stream = new_stream()
        data = {
            "text": 'naïve ☃ 日本\t\n"quoted" \\ back',
            "nested": {"list": [1, 2.5, None, True]},
        }
        event = NewEvent(event_id=uuid4(), event_type="test.rich", data=data)
        await store.append(stream, [event], expected_version=NO_STREAM)
        (stored,) = await store.read_stream(stream)
        assert stored.data == data

    async def test_unstorable_payloads_are_refused_and_nothing_is_written(
        self, store: EventStore
    ) -> None:
        stream = new_stream()
        for data in ({"x": float("nan")}, {"x": "a\x00b"}, {"x": float("inf")}):
            event = NewEvent(event_id=uuid4(), event_type="test.bad", data=data)
            with pytest.raises(EventStoreError):
                await store.append(stream, [event], expected_version=NO_STREAM)
        assert await store.read_stream(stream) == []
        typed = NewEvent(uuid4(), "test.ok", {"path": "C:\\u0000 is text, not NUL"})
        await store.append(stream, [typed], expected_version=NO_STREAM)
        assert (await store.read_stream(stream))[0].data == typed.data

    async def test_contract_payloads_with_any_text_are_stored(self, store: EventStore) -> None:
        # What a user's code prints (NUL, a lone surrogate) reaches the store through
        # envelopes.new_event, which makes it storable: shown, never refused.
        executed = CodeExecuted(
            thread_id="thread_x",
            run_id="run_x",
            step=0,
            code="print('a\\x00b')",
            stdout="a\x00b\n",
            stderr="c\udcffd",
            duration_ms=1.0,
            files=("n\x00ame.csv",),
        )
        stream = new_stream()
        event = envelope_event(uuid4(), executed, {"k": "v"})
        await store.append(stream, [event], expected_version=NO_STREAM)
        (stored,) = await store.read_stream(stream)
        assert stored.data["stdout"] == "a\u2400b\n"
        assert stored.data["stderr"] == "c\ufffdd"
        assert stored.data["files"] == ["n\u2400ame.csv"]
        assert CodeExecuted.model_validate(stored.data).code == "print('a\\x00b')"

    async def test_an_event_id_twice_in_one_batch_is_refused(self, store: EventStore) -> None:
        event = new_event()
        stream = new_stream()
        with pytest.raises(DuplicateEventError):
            await store.append(stream, [event, event], expected_version=NO_STREAM)
        assert await store.read_stream(stream) == []


class CheckpointStoreContract:
    """Subclass and provide a `checkpoints` fixture."""

    @pytest.fixture
    def checkpoints(self) -> CheckpointStore:
        raise NotImplementedError

    async def test_unknown_checkpoint_is_zero(self, checkpoints: CheckpointStore) -> None:
        assert await checkpoints.load(f"nobody-{uuid4()}") == 0

    async def test_saved_checkpoint_is_loaded_and_overwritten(
        self, checkpoints: CheckpointStore
    ) -> None:
        name = f"relay-{uuid4()}"
        await checkpoints.save(name, 7)
        assert await checkpoints.load(name) == 7
        await checkpoints.save(name, 42)
        assert await checkpoints.load(name) == 42
