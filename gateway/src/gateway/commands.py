"""Sends thread commands to thread-service and turns its replies into results or errors."""

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from opentelemetry.trace import SpanKind

from contracts.base import Contract
from contracts.envelope import Envelope
from contracts.ids import new_message_id, new_run_id, new_thread_id
from contracts.replies import CommandReply
from contracts.runs import ExampleName, RequestRun, RunKind
from contracts.threads import CreateThread, PostUserMessage
from eventkit.bus import CommandBus, CommandTimeout, PublishError
from eventkit.ops.correlation import current_correlation_id
from eventkit.ops.trace import current_carrier, spanned
from gateway.errors import (
    BadRequest,
    Conflict,
    GatewayError,
    NotFound,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.projections.projector import MessagesProjector

_REFUSALS: dict[str, type[GatewayError]] = {
    "thread_not_found": NotFound,
    "thread_exists": Conflict,
    "conflict": Conflict,
    "invalid_command": BadRequest,
}

logger = logging.getLogger(__name__)


class ThreadCommands:
    """The write side as the routes see it; answers only once the read model shows the result."""

    def __init__(
        self,
        commands: CommandBus,
        projector: MessagesProjector,
        clock: Callable[[], datetime],
        *,
        timeout: float,
    ) -> None:
        self._commands = commands
        self._projector = projector
        self._clock = clock
        self._timeout = timeout

    async def create_thread(self) -> str:
        """Open a thread; returns its id."""
        thread_id = new_thread_id()
        await self._send(CreateThread(thread_id=thread_id), thread_id)
        return thread_id

    async def post_user_message(self, thread_id: str, content: str) -> str:
        """Add a user message; returns its id."""
        message_id = new_message_id()
        command = PostUserMessage(thread_id=thread_id, message_id=message_id, content=content)
        await self._send(command, thread_id)
        return message_id

    async def request_run(
        self,
        thread_id: str,
        *,
        kind: RunKind,
        content: str | None = None,
        file_ids: tuple[str, ...] = (),
        use_code_interpreter: bool = True,
        example: ExampleName | None = None,
    ) -> tuple[str, int]:
        """Post `content` (if any) and ask for a run; returns the run id and the stream version."""
        run_id = new_run_id()
        command = RequestRun(
            thread_id=thread_id,
            run_id=run_id,
            kind=kind,
            message_id=None if content is None else new_message_id(),
            content=content,
            example=example,
            file_ids=file_ids,
            use_code_interpreter=use_code_interpreter,
        )
        reply = await self._send(command, thread_id)
        return run_id, -1 if reply.stream_version is None else reply.stream_version

    async def _send(self, payload: Contract, stream_id: str) -> CommandReply:
        data = payload.model_dump(mode="json")
        with spanned(f"send {data['type']}", kind=SpanKind.PRODUCER) as span:
            command = Envelope(
                message_id=uuid.uuid4(),
                type=data["type"],
                stream_id=stream_id,
                correlation_id=current_correlation_id(),
                occurred_at=self._clock(),
                payload=data,
                trace=current_carrier(),  # this span is the handler's parent
            )
            if span.is_recording():
                span.set_attributes(
                    {"messaging.message.id": str(command.message_id), "cie.stream_id": stream_id}
                )
            return await self._send_envelope(command)

    async def _send_envelope(self, command: Envelope) -> CommandReply:
        try:
            reply = await self._commands.send(command, timeout=self._timeout)
        except CommandTimeout:
            raise UpstreamTimeout(
                f"thread-service did not answer within {self._timeout:g} s; try again"
            ) from None
        except PublishError as error:
            logger.warning("command %s not delivered: %s", command.message_id, error)
            raise UpstreamUnavailable(
                "thread-service cannot be reached (the message broker did not take the "
                "request); nothing was done, try again in a moment"
            ) from None
        if not reply.ok:
            refusal = _REFUSALS.get(reply.error_code or "", GatewayError)
            raise refusal(reply.detail or f"thread-service refused: {reply.error_code}")
        # Read your writes: the answer goes out only once the view shows the new events.
        await self._projector.catch_up(command.stream_id, until_version=reply.stream_version)
        return reply
