"""The chat use case: ask for a run on a thread (new or given) and answer with its outcome."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from contracts.runs import ExampleName, RunKind
from gateway.commands import ThreadCommands
from gateway.errors import GatewayError, NotFound, UpstreamTimeout
from gateway.files import FileServiceClient, UpstreamError
from gateway.projections.projector import MessagesProjector
from gateway.runs import RunEnd, RunWaiter


class RunFailedError(GatewayError):
    """The run ended without an answer (the spec: 500, "run failed")."""

    status_code = 500


@dataclass(frozen=True)
class Answer:
    """What `/api/chat`, `/api/analyze` and the examples answer."""

    thread_id: str
    run_id: str
    end: RunEnd


@dataclass(frozen=True)
class Conversations:
    """Turns a request into a run and waits for its answer."""

    commands: ThreadCommands
    waiter: RunWaiter
    projector: MessagesProjector
    files: FileServiceClient
    run_timeout_s: float

    async def ask(
        self,
        thread_id: str | None,
        *,
        kind: RunKind,
        content: str | None = None,
        file_ids: list[str] | None = None,
        use_code_interpreter: bool = True,
        example: ExampleName | None = None,
    ) -> Answer:
        """Check the files exist, open a thread if none is given, run, and wait for the end."""
        attached = await self._known_files(file_ids or [])
        if thread_id is None:
            thread_id = await self.commands.create_thread()
        run_id, version = await self.commands.request_run(
            thread_id,
            kind=kind,
            content=content,
            file_ids=attached,
            use_code_interpreter=use_code_interpreter,
            example=example,
        )
        try:
            async with asyncio.timeout(self.run_timeout_s):
                end = await self.waiter.wait(thread_id, run_id, after_version=version)
        except TimeoutError:
            raise UpstreamTimeout(
                f"Run {run_id} is still going after {self.run_timeout_s:g} s; its answer will "
                f"appear in GET /api/thread/{thread_id}/messages"
            ) from None
        # Read your writes: the thread's messages show the answer once this returns.
        await self.projector.catch_up(thread_id, until_version=end.version)
        if end.failure is not None:
            raise RunFailedError(f"Run {run_id} of {thread_id} failed: {end.failure}")
        if end.answer is None:
            raise GatewayError(f"Run {run_id} completed without an answer")
        return Answer(thread_id=thread_id, run_id=run_id, end=end)

    async def _known_files(self, file_ids: list[str]) -> tuple[str, ...]:
        unique = list(dict.fromkeys(file_ids))
        for file_id in unique:
            try:
                await self.files.meta(file_id)
            except UpstreamError as error:
                if error.status_code == 404:
                    raise NotFound(f"File {file_id} not found") from None
                raise
        return tuple(unique)
