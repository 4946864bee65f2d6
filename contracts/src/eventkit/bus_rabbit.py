"""RabbitMQ adapter of the EventBus and CommandBus ports, over one robust aio-pika connection.

    async with RabbitBus.connect(url, delivery_limit=5) as bus:
        await bus.subscribe("gateway.projections", ["thread.*"], handle, prefetch=100)
        await bus.publish(events)

Topology (see bus_rabbit_topology): durable topic exchanges for events, commands and dead
letters; one quorum queue per consumer with a delivery limit and its own `.dlq`. Publishing
waits for publisher confirms of the whole batch. A command the broker cannot route is an error
(`mandatory`: no service handles it). An event no queue is bound to is not: events are facts
already in the store, a consumer that binds later catches up from there, and the relay must not
stall on an event type nobody subscribes to.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from uuid import uuid4

import aio_pika
from aio_pika import Message
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
    AbstractRobustQueue,
)
from aio_pika.exceptions import AMQPError
from aio_pika.exceptions import ChannelInvalidStateError as ChannelClosedWhileReconnecting
from aio_pika.exceptions import PublishError as Returned
from pydantic import ValidationError

from contracts import routing
from contracts.envelope import Envelope
from contracts.replies import CommandReply
from eventkit.bus import (
    DEFAULT_DELIVERY_LIMIT,
    BusError,
    CommandHandler,
    CommandTimeout,
    EventHandler,
    PublishError,
)
from eventkit.bus_rabbit_consumer import Process, QueueConsumer, ReplyRouter
from eventkit.bus_rabbit_topology import (
    QueueArguments,
    declare_consumer_queue,
    declare_dead_letter_queue,
    declare_exchanges,
    envelope_message,
    reply_message,
)

logger = logging.getLogger(__name__)

RECONNECT_POLL_S = 0.1
"""How often a publish looks again for a channel the robust connection is restoring."""


class RabbitBus:
    """EventBus and CommandBus on RabbitMQ; create it with `RabbitBus.connect`."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        publisher: AbstractRobustChannel,
        exchanges: tuple[AbstractRobustExchange, AbstractRobustExchange],
        *,
        delivery_limit: int,
        publish_timeout: float,
        shutdown_grace: float,
        queue_arguments: QueueArguments,
    ) -> None:
        self._connection = connection
        self._publisher = publisher
        self._events, self._commands = exchanges
        self._delivery_limit = delivery_limit
        self._publish_timeout = publish_timeout
        self._shutdown_grace = shutdown_grace
        self._queue_arguments = queue_arguments
        self._consumers: list[QueueConsumer] = []
        self._replies: ReplyRouter | None = None
        self._replies_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        url: str,
        *,
        delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
        publish_timeout: float = 10.0,
        shutdown_grace: float = 10.0,
        queue_arguments: QueueArguments | None = None,
        connection_name: str = "cie-bus",
        startup_timeout: float = 30.0,
    ) -> AsyncIterator["RabbitBus"]:
        """Connect, declare the exchanges, and close cleanly on exit.

        `delivery_limit` is how many times a message is delivered before it is dead-lettered.
        `queue_arguments` are added to every queue this bus declares (tests use `x-expires`);
        every process declaring a queue must pass the same ones. A broker that does not answer
        yet is tried again for `startup_timeout` seconds (services may start before it).
        """
        if delivery_limit < 1:
            raise ValueError("delivery_limit must be at least 1")
        connection = await _first_connection(url, connection_name, startup_timeout)
        try:
            # on_return_raises: an unroutable mandatory message fails its publish call.
            publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchanges = await declare_exchanges(publisher)
        except BaseException:
            await connection.close()
            raise
        bus = cls(
            connection,
            publisher,
            exchanges,
            delivery_limit=delivery_limit,
            publish_timeout=publish_timeout,
            shutdown_grace=shutdown_grace,
            queue_arguments=dict(queue_arguments or {}),
        )
        try:
            yield bus
        finally:
            await bus.close()

    async def check(self) -> str:
        """Readiness: the connection to the broker is open (raises if not)."""
        if self._closed or self._connection.is_closed:
            raise BusError("not connected to RabbitMQ")
        return "connected"

    async def publish(self, events: Sequence[Envelope]) -> None:
        """Publish every event (key: `routing.routing_key`) concurrently; return once confirmed."""
        self._check_open()
        messages = [(envelope_message(e), routing.routing_key(e)) for e in events]
        await self._confirm_all(self._events, messages, mandatory=False)

    async def subscribe(
        self,
        queue: str,
        binding_keys: Sequence[str],
        handler: EventHandler,
        *,
        prefetch: int,
        single_active: bool = False,
    ) -> None:
        """Consume `queue` (bound to `binding_keys` on the events exchange) with `handler`."""

        async def process(event: Envelope, _: AbstractIncomingMessage) -> None:
            await handler(event)

        await self._consume(
            queue, routing.EVENTS_EXCHANGE, binding_keys, prefetch, process, single_active
        )

    async def declare(
        self, queue: str, binding_keys: Sequence[str], *, single_active: bool = False
    ) -> None:
        """Declare and bind `queue` (and its dead-letter queue) on the events exchange."""
        self._check_open()
        channel = await self._connection.channel(publisher_confirms=False)
        try:
            await self._declare(
                channel, queue, routing.EVENTS_EXCHANGE, binding_keys, single_active
            )
        except AMQPError as error:
            raise BusError(f"cannot declare {queue!r}: {error!r}") from error
        finally:
            with contextlib.suppress(Exception):
                await channel.close()

    async def unsubscribe(self, queue: str, *, grace: float | None = None) -> None:
        """Cancel this process's consumers of `queue`, letting running handlers finish.

        Shielded: if the caller is cancelled, the stop goes on, and `close` (which stops every
        consumer still listed, within the shutdown grace) waits for it.
        """
        leaving = [consumer for consumer in self._consumers if consumer.queue_name == queue]
        grace = self._shutdown_grace if grace is None else grace

        async def stop() -> None:
            try:
                await asyncio.gather(*(consumer.stop(grace) for consumer in leaving))
            finally:
                self._consumers = [c for c in self._consumers if c not in leaving]

        await asyncio.shield(stop())

    async def drain_dead_letters(self, queue: str) -> list[Envelope]:
        """Get and ack everything now in `<queue>.dlq`, oldest first."""
        self._check_open()
        channel = await self._connection.channel(publisher_confirms=False)
        try:
            dlq = await declare_dead_letter_queue(
                channel, queue, extra=self._queue_arguments, robust=False
            )
            drained: list[tuple[Envelope, AbstractIncomingMessage]] = []
            while (message := await dlq.get(no_ack=False, fail=False)) is not None:
                try:
                    drained.append((Envelope.model_validate_json(message.body), message))
                except ValidationError:
                    # Left unacked, it returns to the DLQ when the channel closes, for an operator.
                    logger.error("keeping malformed dead letter %s", message.message_id)
            # Ack only once everything is read: a failure above leaves the DLQ untouched.
            for _, message in drained:
                await message.ack()
            return [envelope for envelope, _ in drained]
        finally:
            with contextlib.suppress(Exception):
                await channel.close()

    async def send(self, command: Envelope, *, timeout: float) -> CommandReply:
        """Send `command` (routing key = type) and wait up to `timeout` s for its reply."""
        self._check_open()
        replies = await self._reply_router()
        correlation_id = uuid4().hex
        message = envelope_message(
            command, reply_to=replies.queue_name, correlation_id=correlation_id
        )
        # Expect the reply before publishing: it can arrive before the publish confirm.
        with replies.expect(correlation_id) as reply:
            try:
                async with asyncio.timeout(timeout):
                    await self._confirm_all(self._commands, [(message, command.type)])
                    return await reply
            except TimeoutError:
                raise CommandTimeout(f"no reply to {command.type} in {timeout} s") from None

    async def serve(
        self, queue: str, binding_keys: Sequence[str], handler: CommandHandler, *, prefetch: int
    ) -> None:
        """Handle commands routed to `queue`; reply to the sender, then ack."""

        async def process(command: Envelope, message: AbstractIncomingMessage) -> None:
            reply = await handler(command)
            if message.reply_to:
                # Not mandatory: if the sender is gone its reply queue is too, and the broker
                # just drops the reply. The command still counts as handled.
                await self._confirm_all(
                    self._publisher.default_exchange,
                    [(reply_message(reply, message.correlation_id), message.reply_to)],
                    mandatory=False,
                )

        await self._consume(queue, routing.COMMANDS_EXCHANGE, binding_keys, prefetch, process)

    async def close(self, *, grace: float | None = None) -> None:
        """Stop consuming, let running handlers finish (up to `grace` s), then disconnect."""
        if self._closed:
            return
        self._closed = True
        grace = self._shutdown_grace if grace is None else grace
        await asyncio.gather(*(consumer.stop(grace) for consumer in list(self._consumers)))
        self._consumers.clear()
        if self._replies is not None:
            await self._replies.close()
        await self._connection.close()

    async def _consume(
        self,
        queue: str,
        exchange: str,
        binding_keys: Sequence[str],
        prefetch: int,
        process: Process,
        single_active: bool = False,
    ) -> None:
        self._check_open()
        # A channel per consumer: basic.qos (prefetch) is per channel, and a failed
        # declaration closes only this channel.
        channel = await self._connection.channel(publisher_confirms=False)
        try:
            await channel.set_qos(prefetch_count=max(prefetch, 1))
            declared = await self._declare(channel, queue, exchange, binding_keys, single_active)
            consumer = QueueConsumer(channel, declared, process, self._delivery_limit)
            await consumer.start()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await channel.close()
            if isinstance(exc, AMQPError):
                # Typically PRECONDITION_FAILED: the queue exists with other arguments.
                raise BusError(f"cannot consume {queue!r}: {exc!r}") from exc
            raise
        self._consumers.append(consumer)

    async def _declare(
        self,
        channel: AbstractRobustChannel,
        queue: str,
        exchange: str,
        binding_keys: Sequence[str],
        single_active: bool,
    ) -> AbstractRobustQueue:
        """Declare a consumer queue with the arguments every declarer of it must use."""
        return await declare_consumer_queue(
            channel,
            queue,
            exchange,
            binding_keys,
            delivery_limit=self._delivery_limit,
            extra=self._queue_arguments,
            single_active=single_active,
        )

    async def _confirm_all(
        self,
        exchange: AbstractExchange,
        messages: Sequence[tuple[Message, str]],
        *,
        mandatory: bool = True,
    ) -> None:
        if not messages:
            return
        pending = list(messages)
        try:
            async with asyncio.timeout(self._publish_timeout):
                while True:
                    pending = await self._publish_once(exchange, pending, mandatory)
                    if not pending:
                        return
                    # The robust connection is reconnecting: publish what failed again once
                    # it is back (a duplicate at worst; consumers dedupe).
                    await asyncio.sleep(RECONNECT_POLL_S)
        except TimeoutError:
            raise PublishError(
                f"{len(pending)} message(s) not confirmed in {self._publish_timeout} s"
            ) from None

    @staticmethod
    async def _publish_once(
        exchange: AbstractExchange, messages: list[tuple[Message, str]], mandatory: bool
    ) -> list[tuple[Message, str]]:
        """Publish concurrently; return what failed only because the channel was down."""
        # Concurrently: confirms pipeline, where awaiting each in turn costs a round trip.
        results = await asyncio.gather(
            *(exchange.publish(m, key, mandatory=mandatory) for m, key in messages),
            return_exceptions=True,
        )
        failed = [
            (message, result)
            for message, result in zip(messages, results, strict=True)
            if isinstance(result, BaseException)
        ]
        if all(isinstance(result, ChannelClosedWhileReconnecting) for _, result in failed):
            return [message for message, _ in failed]
        keys = ", ".join(sorted({key for (_, key), _ in failed}))
        first = next(r for _, r in failed if not isinstance(r, ChannelClosedWhileReconnecting))
        reason = "unroutable" if isinstance(first, Returned) else "not confirmed"
        raise PublishError(
            f"{len(failed)} of {len(messages)} message(s) {reason} ({keys}): {first!r}"
        ) from first

    async def _reply_router(self) -> ReplyRouter:
        async with self._replies_lock:
            if self._replies is None:
                self._replies = await ReplyRouter.open(self._connection)
            return self._replies

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("the bus is closed")


async def _first_connection(
    url: str, name: str, startup_timeout: float
) -> AbstractRobustConnection:
    """Connect, retrying with backoff while the broker does not answer yet."""
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + startup_timeout, 0.2
    while True:
        try:
            return await aio_pika.connect_robust(url, client_properties={"connection_name": name})
        except (OSError, AMQPError) as error:
            if loop.time() + delay > deadline:
                raise BusError(
                    f"RabbitMQ does not answer after {startup_timeout:g} s: {error!r}"
                ) from error
            logger.warning("RabbitMQ not answering yet (%r); retrying in %.1f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
