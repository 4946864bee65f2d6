"""RabbitMQ topology and wire format for the bus: exchanges, quorum queues, message properties.

Every declaration here is idempotent: several services declare the same exchanges, and each
replica of a service declares its queues with the same arguments. A queue redeclared with
*different* arguments fails with PRECONDITION_FAILED, so every argument comes from this module.
"""

from collections.abc import Mapping, Sequence

from aio_pika import DeliveryMode, ExchangeType, Message
from aio_pika.abc import AbstractRobustChannel, AbstractRobustExchange, AbstractRobustQueue
from pamqp.common import FieldValue

from contracts import routing
from contracts.envelope import Envelope
from contracts.replies import CommandReply

QueueArguments = Mapping[str, FieldValue]
JSON = "application/json"
REPLY_TYPE = "command.reply"


async def declare_exchanges(
    channel: AbstractRobustChannel,
) -> tuple[AbstractRobustExchange, AbstractRobustExchange]:
    """Declare the events, commands and dead-letter topic exchanges; return (events, commands)."""
    events = await channel.declare_exchange(
        routing.EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True
    )
    commands = await channel.declare_exchange(
        routing.COMMANDS_EXCHANGE, ExchangeType.TOPIC, durable=True
    )
    await channel.declare_exchange(routing.DEAD_LETTER_EXCHANGE, ExchangeType.TOPIC, durable=True)
    return events, commands


def consumer_queue_arguments(
    queue: str, *, delivery_limit: int, extra: QueueArguments, single_active: bool = False
) -> dict[str, FieldValue]:
    """Arguments of a consumer queue: quorum, bounded redelivery, its own dead-letter queue
    (and, if asked, one active consumer at a time)."""
    active: dict[str, FieldValue] = {"x-single-active-consumer": True} if single_active else {}
    return {
        **extra,
        **active,
        "x-queue-type": "quorum",
        # RabbitMQ counts *re*deliveries: x-delivery-limit N allows N + 1 deliveries (measured
        # on 3.10.8), so `delivery_limit` deliveries in total, as in the in-memory bus.
        "x-delivery-limit": delivery_limit - 1,
        "x-dead-letter-exchange": routing.DEAD_LETTER_EXCHANGE,
        # One routing key per queue, so its rejects land in its own `.dlq` and nowhere else.
        "x-dead-letter-routing-key": routing.dead_letter_queue(queue),
        # at-least-once keeps a message in the source queue until the DLQ confirms it; it only
        # takes effect together with reject-publish overflow.
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def dead_letter_queue_arguments(extra: QueueArguments) -> dict[str, FieldValue]:
    """Arguments of a `.dlq` queue: quorum, no limit, no dead-lettering of its own."""
    return {**extra, "x-queue-type": "quorum"}


async def declare_dead_letter_queue(
    channel: AbstractRobustChannel, queue: str, *, extra: QueueArguments, robust: bool = True
) -> AbstractRobustQueue:
    """Declare `<queue>.dlq` and bind it to the dead-letter exchange under its own name."""
    name = routing.dead_letter_queue(queue)
    dlq = await channel.declare_queue(
        name, durable=True, arguments=dead_letter_queue_arguments(extra), robust=robust
    )
    await dlq.bind(routing.DEAD_LETTER_EXCHANGE, name, robust=robust)
    return dlq


async def declare_consumer_queue(
    channel: AbstractRobustChannel,
    queue: str,
    exchange: str,
    binding_keys: Sequence[str],
    *,
    delivery_limit: int,
    extra: QueueArguments,
    single_active: bool = False,
) -> AbstractRobustQueue:
    """Declare a consumer queue and its dead-letter queue; bind it by `binding_keys`."""
    # The DLQ goes first: at-least-once dead-lettering holds messages back while it is missing.
    await declare_dead_letter_queue(channel, queue, extra=extra)
    declared = await channel.declare_queue(
        queue,
        durable=True,
        arguments=consumer_queue_arguments(
            queue, delivery_limit=delivery_limit, extra=extra, single_active=single_active
        ),
    )
    for key in binding_keys:
        await declared.bind(exchange, key)
    return declared


def envelope_message(
    envelope: Envelope, *, reply_to: str | None = None, correlation_id: str | None = None
) -> Message:
    """A persistent AMQP message carrying `envelope` as JSON, its metadata as properties."""
    headers: dict[str, FieldValue] = {
        "x-stream-id": envelope.stream_id,
        "x-schema-version": envelope.schema_version,
    }
    # Commands have no version or position; AMQP void values confuse some tools, so leave out.
    if envelope.stream_version is not None:
        headers["x-stream-version"] = envelope.stream_version
    if envelope.global_position is not None:
        headers["x-global-position"] = envelope.global_position
    headers.update(envelope.trace)  # traceparent / tracestate: one request, one trace
    return Message(
        envelope.model_dump_json().encode(),
        message_id=str(envelope.message_id),
        type=envelope.type,
        correlation_id=correlation_id or str(envelope.correlation_id),
        timestamp=envelope.occurred_at,
        content_type=JSON,
        delivery_mode=DeliveryMode.PERSISTENT,
        headers=headers,
        reply_to=reply_to,
    )


def reply_message(reply: CommandReply, correlation_id: str | None) -> Message:
    """A transient message answering the command sent with `correlation_id`."""
    # Transient: the reply queue is exclusive to a live sender and dies with it.
    return Message(
        reply.model_dump_json().encode(),
        type=REPLY_TYPE,
        correlation_id=correlation_id,
        content_type=JSON,
        delivery_mode=DeliveryMode.NOT_PERSISTENT,
    )
