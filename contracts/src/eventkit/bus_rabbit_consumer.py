"""The consuming side of the RabbitMQ bus: queue consumers with manual acks, and command replies."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from uuid import uuid4

from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)
from pydantic import ValidationError

from contracts.envelope import Envelope
from contracts.replies import CommandReply
from eventkit.bus import BusError
from eventkit.ops.context import handling
from eventkit.ops.metrics import DEAD_LETTERS, REDELIVERIES

logger = logging.getLogger(__name__)

Process = Callable[[Envelope, AbstractIncomingMessage], Awaitable[None]]
"""Handles one decoded delivery; raising means "try again later"."""


class QueueConsumer:
    """One consumer of one queue on its own channel: ack on success, requeue on failure."""

    def __init__(
        self,
        channel: AbstractRobustChannel,
        queue: AbstractRobustQueue,
        process: Process,
        delivery_limit: int,
    ) -> None:
        self._delivery_limit = delivery_limit
        self._channel = channel
        self._queue = queue
        self._process = process
        self._tag: str | None = None
        self._inflight: set[asyncio.Task[object]] = set()

    @property
    def queue_name(self) -> str:
        """The queue this consumer takes from."""
        return self._queue.name

    async def start(self) -> None:
        """Start receiving; the channel's prefetch bounds how many handlers run at once."""
        self._tag = await self._queue.consume(self._on_message)

    async def stop(self, grace: float) -> None:
        """Stop receiving, give running handlers `grace` seconds, then close the channel.

        Handlers still running after that are cancelled; closing the channel hands their
        unacked messages back to the queue (which counts as a delivery on 3.10).
        """
        if self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
        # Deliveries read off the socket before cancel-ok still get their task; let them start.
        await asyncio.sleep(0)
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # aio-pika runs each delivery in its own task; remember it so stop() can wait for it.
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            await self._handle(message)
        finally:
            self._inflight.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            envelope = Envelope.model_validate_json(message.body)
        except ValidationError:
            # Retrying cannot fix a malformed body: dead-letter it at once.
            logger.exception("malformed message %s on %s", message.message_id, self._queue.name)
            DEAD_LETTERS.labels(self._queue.name).inc()
            await _settle(message.reject(requeue=False), message)
            return
        if message.redelivered:
            REDELIVERIES.labels(self._queue.name).inc()
        try:
            with handling(envelope):
                await self._process(envelope, message)
        except Exception:
            logger.exception(
                "handler for %s failed on %s %s (delivery count %s)",
                self._queue.name,
                envelope.type,
                envelope.message_id,
                message.headers.get("x-delivery-count", 0),
            )
            # reject(requeue) raises the quorum queue's delivery count (nack does too on 3.10,
            # not on 4.3+), so a poison message is dead-lettered after the limit.
            if _delivery_count(message) + 1 >= self._delivery_limit:
                DEAD_LETTERS.labels(self._queue.name).inc()
            await _settle(message.reject(requeue=True), message)
            return
        await _settle(message.ack(), message)


def _delivery_count(message: AbstractIncomingMessage) -> int:
    """Earlier deliveries of this message, as the quorum queue counts them."""
    count = (message.headers or {}).get("x-delivery-count", 0)
    return count if isinstance(count, int) else 0


async def _settle(outcome: Awaitable[None], message: AbstractIncomingMessage) -> None:
    """Send an ack/reject; if the channel is gone the broker already requeued the message."""
    try:
        await outcome
    except Exception:
        logger.warning(
            "could not settle %s; the broker redelivers it", message.message_id, exc_info=True
        )


class ReplyRouter:
    """This process's exclusive reply queue and the senders waiting on it, by correlation id."""

    def __init__(self, channel: AbstractRobustChannel, queue: AbstractRobustQueue) -> None:
        self._channel = channel
        self._queue = queue
        self._waiting: dict[str, asyncio.Future[CommandReply]] = {}

    @classmethod
    async def open(cls, connection: AbstractRobustConnection) -> "ReplyRouter":
        """Declare the reply queue and start consuming it."""
        channel = await connection.channel(publisher_confirms=False)
        # Named by us, not by the server: the robust connection redeclares it by this name
        # after a reconnect, and `amq.gen-*` names may not be declared by clients.
        queue = await channel.declare_queue(
            f"cie.reply.{uuid4().hex}", exclusive=True, auto_delete=True
        )
        router = cls(channel, queue)
        # no_ack: a reply nobody waits for any more has nowhere else to go.
        await queue.consume(router._on_reply, no_ack=True)
        return router

    @property
    def queue_name(self) -> str:
        """Where servers send replies (the reply_to of our commands)."""
        return str(self._queue.name)

    @contextlib.contextmanager
    def expect(self, correlation_id: str) -> Iterator["asyncio.Future[CommandReply]"]:
        """A future for the reply with `correlation_id`, forgotten when the block exits."""
        future: asyncio.Future[CommandReply] = asyncio.get_running_loop().create_future()
        self._waiting[correlation_id] = future
        try:
            yield future
        finally:
            self._waiting.pop(correlation_id, None)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._waiting.get(message.correlation_id or "")
        if future is None or future.done():
            logger.debug("dropping late reply %s", message.correlation_id)
            return
        try:
            future.set_result(CommandReply.model_validate_json(message.body))
        except ValidationError as exc:
            future.set_exception(BusError(f"malformed reply: {exc}"))

    async def close(self) -> None:
        """Fail the senders still waiting and close the channel (deleting the queue)."""
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(BusError("the bus was closed"))
        with contextlib.suppress(Exception):
            await self._channel.close()
