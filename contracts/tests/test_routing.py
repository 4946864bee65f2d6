"""Routing keys: run requests spread over partitions by thread; everything else by type."""

from collections import Counter
from datetime import UTC, datetime
from uuid import uuid4

from contracts import routing
from contracts.envelope import Envelope
from contracts.ids import new_thread_id
from eventkit.bus import topic_matches


def message(message_type: str, stream_id: str) -> Envelope:
    return Envelope(
        message_id=uuid4(),
        type=message_type,
        stream_id=stream_id,
        stream_version=0,
        global_position=1,
        correlation_id=uuid4(),
        occurred_at=datetime.now(UTC),
        payload={},
    )


def test_a_run_request_is_keyed_by_its_threads_partition_and_only_that_queue_binds_it() -> None:
    thread = new_thread_id()
    key = routing.routing_key(message(routing.RUN_REQUESTED, thread))
    own = routing.run_partition(thread)
    assert key == f"run.requested.p{own:02d}"
    for partition in range(routing.RUN_PARTITIONS):
        bound = any(topic_matches(k, key) for k in routing.run_partition_keys(partition))
        assert bound == (partition == own)


def test_other_messages_keep_their_type_as_key() -> None:
    thread = new_thread_id()
    for kind in ("thread.created", "run.started", "run.completed", "file.uploaded"):
        assert routing.routing_key(message(kind, thread)) == kind


def test_the_gateway_still_hears_every_thread_and_run_event() -> None:
    thread = new_thread_id()
    for kind in ("thread.created", "run.requested", "run.started", "run.failed"):
        key = routing.routing_key(message(kind, thread))
        assert any(topic_matches(k, key) for k in routing.THREAD_EVENT_KEYS), key


def test_threads_spread_over_every_partition() -> None:
    counts = Counter(routing.run_partition(new_thread_id()) for _ in range(4000))
    assert set(counts) == set(range(routing.RUN_PARTITIONS))
    mean = 4000 / routing.RUN_PARTITIONS
    assert max(counts.values()) < 1.5 * mean


def test_partition_queue_names_are_distinct_and_sort_in_order() -> None:
    names = [routing.run_partition_queue(p) for p in range(routing.RUN_PARTITIONS)]
    assert names == sorted(set(names))
