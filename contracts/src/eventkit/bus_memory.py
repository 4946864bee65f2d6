"""In-process bus for the embedded default and tests, with the same delivery rules as RabbitMQ.

Messages are copied through JSON on the way in, as they would be on the wire.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts.envelope import Envelope
from contracts.replies import CommandReply
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


class InMemoryEventBus:
    """An EventBus in one process: a queue per consumer name, workers per subscription."""

    def __init__(self, *, delivery_limit: int = DEFAULT_DELIVERY_LIMIT) -> None:
        self._queues: dict[str, _Queue] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._delivery_limit = delivery_limit

    async def publish(self, events: Sequence[Envelope]) -> None:
        for event in events:
            copy = Envelope.model_validate_json(event.model_dump_json())
            for queue in self._queues.values():
                if any(topic_matches(key, event.type) for key in queue.binding_keys):
                    queue.messages.put_nowait((copy, 1))

    async def subscribe(
        self, queue: str, binding_keys: Sequence[str], handler: EventHandler, *, prefetch: int
    ) -> None:
        state = self._queues.setdefault(queue, _Queue(tuple(binding_keys)))
        state.binding_keys = tuple(dict.fromkeys((*state.binding_keys, *binding_keys)))
        for _ in range(max(prefetch, 1)):
            self._workers.append(asyncio.create_task(self._consume(queue, state, handler)))

    async def _consume(self, name: str, queue: _Queue, handler: EventHandler) -> None:
        while True:
            message, attempt = await queue.messages.get()
            try:
                with handling(message):
                    await handler(message)
            except asyncio.CancelledError:
                queue.messages.put_nowait((message, attempt))
                raise
            except Exception:
                logger.exception("handler for %s failed on %s", name, message.type)
                if attempt >= self._delivery_limit:
                    DEAD_LETTERS.labels(name).inc()
                    queue.dead.append(message)
                else:
                    queue.messages.put_nowait((message, attempt + 1))

    async def drain_dead_letters(self, queue: str) -> list[Envelope]:
        state = self._queues.get(queue)
        if state is None:
            return []
        dead, state.dead = state.dead, []
        return dead

    async def close(self) -> None:
        """Stop every consumer; undelivered messages stay queued."""
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers.clear()


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
