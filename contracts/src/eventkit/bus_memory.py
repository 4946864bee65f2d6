"""In-process bus for the embedded default and tests, with the same delivery rules as RabbitMQ.

Messages are copied through JSON on the way in, as they would be on the wire.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts.envelope import Envelope
from contracts.replies import CommandReply
from contracts.routing import routing_key
from eventkit.bus import (
    DEFAULT_DELIVERY_LIMIT,
    CommandHandler,
    CommandTimeout,
    EventHandler,
    PublishError,
    topic_matches,
)
from eventkit.ops.context import handling
from eventkit.ops.metrics import DEAD_LETTERS

logger = logging.getLogger(__name__)


@dataclass
class _Queue:
    binding_keys: tuple[str, ...]
    messages: "asyncio.Queue[tuple[Envelope, int]]" = field(default_factory=asyncio.Queue)
    dead: list[Envelope] = field(default_factory=list)


@dataclass
class _Subscription:
    """The workers one `subscribe` call started; `busy` are those inside the handler."""

    queue: str
    workers: list["asyncio.Task[None]"] = field(default_factory=list)
    busy: set["asyncio.Task[None]"] = field(default_factory=set)
    stopping: bool = False


class InMemoryEventBus:
    """An EventBus in one process: a queue per consumer name, workers per subscription."""

    def __init__(
        self, *, delivery_limit: int = DEFAULT_DELIVERY_LIMIT, shutdown_grace: float = 10.0
    ) -> None:
        self._queues: dict[str, _Queue] = {}
        self._subscriptions: list[_Subscription] = []
        self._delivery_limit = delivery_limit
        self._shutdown_grace = shutdown_grace

    async def publish(self, events: Sequence[Envelope]) -> None:
        for event in events:
            copy = Envelope.model_validate_json(event.model_dump_json())
            key = routing_key(event)
            for queue in self._queues.values():
                if any(topic_matches(binding, key) for binding in queue.binding_keys):
                    queue.messages.put_nowait((copy, 1))

    async def subscribe(
        self,
        queue: str,
        binding_keys: Sequence[str],
        handler: EventHandler,
        *,
        prefetch: int,
        single_active: bool = False,  # one process: its workers are the only consumer
    ) -> None:
        await self.declare(queue, binding_keys)
        state = self._queues[queue]
        subscription = _Subscription(queue)
        for _ in range(max(prefetch, 1)):
            worker = asyncio.create_task(self._consume(subscription, state, handler))
            subscription.workers.append(worker)
        self._subscriptions.append(subscription)

    async def declare(
        self, queue: str, binding_keys: Sequence[str], *, single_active: bool = False
    ) -> None:
        state = self._queues.setdefault(queue, _Queue(tuple(binding_keys)))
        state.binding_keys = tuple(dict.fromkeys((*state.binding_keys, *binding_keys)))

    async def unsubscribe(self, queue: str, *, grace: float | None = None) -> None:
        leaving = [s for s in self._subscriptions if s.queue == queue]
        grace = self._shutdown_grace if grace is None else grace

        async def stop() -> None:  # listed until stopped, so `close` can still cut it short
            try:
                await asyncio.gather(*(self._stop(s, grace) for s in leaving))
            finally:
                self._subscriptions = [s for s in self._subscriptions if s not in leaving]

        await asyncio.shield(stop())

    async def _consume(
        self, subscription: _Subscription, queue: _Queue, handler: EventHandler
    ) -> None:
        worker = asyncio.current_task()
        assert worker is not None
        while not subscription.stopping:
            message, attempt = await queue.messages.get()
            subscription.busy.add(worker)
            try:
                with handling(message):
                    await handler(message)
            except asyncio.CancelledError:
                queue.messages.put_nowait((message, attempt))
                raise
            except Exception:
                logger.exception("handler for %s failed on %s", subscription.queue, message.type)
                if attempt >= self._delivery_limit:
                    DEAD_LETTERS.labels(subscription.queue).inc()
                    queue.dead.append(message)
                else:
                    queue.messages.put_nowait((message, attempt + 1))
            finally:
                subscription.busy.discard(worker)

    @staticmethod
    async def _stop(subscription: _Subscription, grace: float) -> None:
        """Idle workers stop at once; busy ones finish their message (up to `grace` s)."""
        subscription.stopping = True
        for worker in subscription.workers:
            if worker not in subscription.busy:
                worker.cancel()
        _, late = await asyncio.wait(subscription.workers, timeout=grace)
        for worker in late:
            worker.cancel()  # its message goes back to the queue
        await asyncio.gather(*subscription.workers, return_exceptions=True)

    async def drain_dead_letters(self, queue: str) -> list[Envelope]:
        state = self._queues.get(queue)
        if state is None:
            return []
        dead, state.dead = state.dead, []
        return dead

    async def close(self) -> None:
        """Stop every consumer; undelivered messages stay queued."""
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            for worker in subscription.workers:
                worker.cancel()
        for subscription in subscriptions:
            await asyncio.gather(*subscription.workers, return_exceptions=True)


class InMemoryCommandBus:
    """A CommandBus in one process: `send` calls the serving handler directly."""

    def __init__(self) -> None:
        self._handlers: list[tuple[tuple[str, ...], CommandHandler, asyncio.Semaphore]] = []

    async def send(self, command: Envelope, *, timeout: float) -> CommandReply:
        copy = Envelope.model_validate_json(command.model_dump_json())
        for keys, handler, slots in self._handlers:
            if any(topic_matches(key, command.type) for key in keys):
                # Shielded: like a command already in a broker queue, it completes even when
                # the sender stops waiting.
                handled = asyncio.ensure_future(self._handle(handler, slots, copy))
                try:
                    return await asyncio.wait_for(asyncio.shield(handled), timeout)
                except TimeoutError:
                    raise CommandTimeout(f"no reply to {command.type} in {timeout} s") from None
        raise PublishError(f"no service handles {command.type!r}")

    @staticmethod
    async def _handle(
        handler: CommandHandler, slots: asyncio.Semaphore, command: Envelope
    ) -> CommandReply:
        async with slots:
            with handling(command):
                return await handler(command)

    async def serve(
        self, queue: str, binding_keys: Sequence[str], handler: CommandHandler, *, prefetch: int
    ) -> None:
        self._handlers.append((tuple(binding_keys), handler, asyncio.Semaphore(max(prefetch, 1))))
