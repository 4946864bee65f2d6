"""The use cases: load a thread's stream, decide, append. One entry point per command type."""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from contracts.base import Contract
from contracts.envelope import Envelope
from contracts.ids import derived_event_id
from contracts.registry import UnknownMessageType, parse_command
from contracts.replies import CommandReply
from contracts.runs import RequestRun
from contracts.threads import CreateThread, PostUserMessage
from eventkit.envelopes import event_metadata, new_event
from eventkit.ops.metrics import COMMANDS
from eventkit.store import NO_STREAM, ConcurrencyError, EventStore
from thread_service import domain
from thread_service.errors import InvalidCommand, ThreadServiceError
from thread_service.streams import ThreadStreams

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Decider = Callable[[domain.Thread | None, Any, datetime], list[Contract]]

# The command routing table: command contract -> domain decision.
DECIDERS: dict[type[Any], Decider] = {
    CreateThread: lambda state, command, now: domain.create_thread(state, command, now=now),
    PostUserMessage: lambda state, command, now: domain.post_user_message(state, command, now=now),
    RequestRun: lambda state, command, now: domain.request_run(state, command, now=now),
}

MAX_CONFLICT_RETRIES = 5


class Threads:
    """Handles thread commands against the event store."""

    def __init__(self, store: EventStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._streams = ThreadStreams(store)

    async def handle(self, command: Envelope) -> CommandReply:
        """Carry out one command; a refusal is a reply, never an exception (no redelivery)."""
        try:
            contract = _parse(command)
            reply = await self._decide_and_append(command, contract)
        except ThreadServiceError as refused:
            reply = CommandReply(
                ok=False, stream_id=command.stream_id, error_code=refused.code, detail=str(refused)
            )
        COMMANDS.labels(command.type, "ok" if reply.ok else reply.error_code or "refused").inc()
        return reply

    async def _decide_and_append(self, command: Envelope, contract: Any) -> CommandReply:
        stream_id = contract.thread_id
        for _ in range(MAX_CONFLICT_RETRIES):
            stream = await self._streams.read(stream_id)
            earlier = stream.caused.get(str(command.message_id))
            if earlier is not None:  # a redelivered command: answer what it did the first time
                return _ok(stream_id, *earlier)
            decided = DECIDERS[type(contract)](stream.state, contract, self._clock())
            metadata = event_metadata(
                correlation_id=command.correlation_id,
                causation_id=command.message_id,
                occurred_at=self._clock(),
            )
            events = [
                new_event(derived_event_id(command.message_id, index), event, metadata)
                for index, event in enumerate(decided)
            ]
            expected = stream.version if stream.version >= 0 else NO_STREAM
            try:
                result = await self._store.append(stream_id, events, expected_version=expected)
            except ConcurrencyError:
                logger.info("conflict on %s; retrying %s", stream_id, command.type)
                continue
            return _ok(stream_id, result.stream_version, result.global_position)
        return CommandReply(
            ok=False,
            stream_id=stream_id,
            error_code="conflict",
            detail=f"Thread {stream_id} is changing too fast; try again",
        )


def _parse(command: Envelope) -> Any:
    try:
        contract = parse_command(command.type, command.payload)
    except UnknownMessageType:
        raise InvalidCommand(f"Unknown command type {command.type!r}") from None
    except ValidationError as invalid:
        raise InvalidCommand(
            f"Invalid {command.type}: {invalid.errors(include_url=False)}"
        ) from None
    if type(contract) not in DECIDERS:
        raise InvalidCommand(f"thread-service does not handle {command.type!r}")
    return contract


def _ok(stream_id: str, version: int, position: int) -> CommandReply:
    return CommandReply(
        ok=True, stream_id=stream_id, stream_version=version, global_position=position
    )
