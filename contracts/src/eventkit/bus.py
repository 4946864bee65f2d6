"""Bus ports: events fan out to consumer queues; commands go to one service and get a reply.

Delivery is at least once, so every handler must be idempotent. A handler that raises has its
message redelivered; after the queue's delivery limit the message is dead-lettered.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from contracts.envelope import Envelope
from contracts.replies import CommandReply

EventHandler = Callable[[Envelope], Awaitable[None]]
CommandHandler = Callable[[Envelope], Awaitable[CommandReply]]

DEFAULT_DELIVERY_LIMIT = 5


class BusError(Exception):
    """Base class of bus failures."""


class PublishError(BusError):
    """The broker did not confirm (or could not route) a published message."""


class CommandTimeout(BusError):
    """No reply to a command arrived in time."""


class EventBus(Protocol):
    """Publishes events to the events exchange and delivers them to consumer queues."""

    async def publish(self, events: Sequence[Envelope]) -> None:
        """Publish each event (key: `contracts.routing.routing_key`); return once confirmed."""
        ...

    async def subscribe(
        self,
        queue: str,
        binding_keys: Sequence[str],
        handler: EventHandler,
        *,
        prefetch: int,
        single_active: bool = False,
    ) -> None:
        """Consume `queue` (bound to `binding_keys`); consumers of one queue share its messages.

        With `single_active`, only one consumer of the queue gets messages at a time, across
        processes; the others stand by and take over when it goes (its order is kept).
        """
        ...

    async def declare(
        self, queue: str, binding_keys: Sequence[str], *, single_active: bool = False
    ) -> None:
        """Make sure `queue` exists and is bound, without consuming: what it is bound to waits
        there for its consumer. Same arguments as the consumer's `subscribe`."""
        ...

    async def unsubscribe(self, queue: str, *, grace: float | None = None) -> None:
        """Stop consuming `queue` here: no new deliveries; running handlers get `grace` seconds
        (default: the bus's shutdown grace) to finish; what stays unacked returns to the queue."""
        ...

    async def drain_dead_letters(self, queue: str) -> list[Envelope]:
        """Remove and return what `queue` dead-lettered, oldest first."""
        ...


class CommandBus(Protocol):
    """Sends a command to the service that owns it and waits for that service's reply."""

    async def send(self, command: Envelope, *, timeout: float) -> CommandReply:
        """Deliver `command` (routed by its type) and return the handler's reply.

        Raises CommandTimeout if none arrives within `timeout` seconds.
        """
        ...

    async def serve(
        self, queue: str, binding_keys: Sequence[str], handler: CommandHandler, *, prefetch: int
    ) -> None:
        """Handle commands routed to `queue`; the handler's reply goes back to the sender."""
        ...


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: `*` is one dot-separated word, `#` zero or more."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _match(rest, words[1:])
