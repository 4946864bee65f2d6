"""Exchanges, queues and routing keys: the one place the bus topology is named.

Routing keys are message types (`<aggregate>.<event>`), so `thread.*` binds every thread event.
Run requests are the exception: their key ends in the thread's partition
(`run.requested.p07`), so each run-service partition queue gets the runs of a fixed set of
threads, and the replica that owns a partition keeps its threads' Python sessions and order.
Queues are named `<consumer-service>.<purpose>`.
"""

import zlib
from dataclasses import dataclass

from contracts.envelope import Envelope

EVENTS_EXCHANGE = "cie.events"
"""Topic exchange the relay publishes committed events to."""

DEAD_LETTER_EXCHANGE = "cie.dlx"
"""Topic exchange rejected messages go to once their delivery limit is spent."""

COMMANDS_EXCHANGE = "cie.commands"
"""Topic exchange commands are sent to; each owning service binds its command types."""

THREAD_COMMANDS_QUEUE = "thread-service.commands"
THREAD_COMMAND_KEYS = ("thread.create", "thread.post_user_message", "thread.request_run")

GATEWAY_PROJECTIONS_QUEUE = "gateway.projections"
THREAD_EVENT_KEYS = ("thread.*", "run.#")
"""Everything in thread streams: messages and the runs that answer them."""

RUN_REQUESTED = "run.requested"
RUN_PARTITIONS = 16
"""How many partition queues run requests are spread over: the most run-service replicas that
can share the work. Every publisher and consumer must agree on it; changing it moves threads
(and their Python sessions) to other partitions."""

PARTITIONED_TYPES = frozenset({RUN_REQUESTED})


def run_partition(thread_id: str) -> int:
    """The partition a thread's runs go to: a stable hash, the same in every process."""
    return zlib.crc32(thread_id.encode()) % RUN_PARTITIONS


def run_partition_queue(partition: int) -> str:
    """The run-service queue of one partition."""
    return f"run-service.runs.p{partition:02d}"


def run_partition_keys(partition: int) -> tuple[str, ...]:
    """What a partition queue is bound to."""
    return (f"{RUN_REQUESTED}.p{partition:02d}",)


def routing_key(message: Envelope) -> str:
    """The key a message is published with: its type, plus the partition for run requests."""
    if message.type in PARTITIONED_TYPES:
        return f"{message.type}.p{run_partition(message.stream_id):02d}"
    return message.type


def dead_letter_queue(queue: str) -> str:
    """The queue holding what `queue` gave up on."""
    return f"{queue}.dlq"


FILE_EVENT_KEYS = ("file.*",)


@dataclass(frozen=True)
class QueueSpec:
    """A consumer queue as its consumer declares it (declaring it elsewhere must match)."""

    name: str
    binding_keys: tuple[str, ...]
    single_active: bool = False


RUN_PARTITION_QUEUES = tuple(
    QueueSpec(run_partition_queue(p), run_partition_keys(p), single_active=True)
    for p in range(RUN_PARTITIONS)
)
"""The relay declares these before it publishes: a run request waits in its partition queue
even before any run-service replica has started, instead of being dropped as unroutable."""
