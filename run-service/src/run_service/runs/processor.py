"""Takes `run.requested` events and carries the thread's pending runs out, one at a time, in order.

The thread's stream is the queue: whichever delivery arrives, the runs of that thread that have
not ended are executed oldest first, so a redelivered or reordered message can neither skip a
run nor run one twice (a run that ended is never touched again; event ids are derived from the
run, so a retried append is a no-op). A run found started but not ended, with no one here
running it, was cut off by a crash of an earlier process: it is failed with that reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from contracts.envelope import Envelope
from contracts.runs import AssistantMessagePosted, RunCompleted, RunFailed, RunStarted
from eventkit.ops.metrics import RUN_SECONDS, RUNS
from eventkit.store import DuplicateEventError, EventStore
from run_service.engines import Engine, EngineError, RunOutcome, RunRequest
from run_service.engines.sandbox_executor import SandboxExecutor
from run_service.runs.engines import Engines
from run_service.runs.executor import RecordingExecutor, run_span
from run_service.runs.files import FileStore, FileUnavailable
from run_service.runs.locks import KeyedLocks
from run_service.runs.outputs import keep_files
from run_service.runs.recorder import RunRecorder
from run_service.runs.thread_log import RunRecord, ThreadLog, ThreadLogs
from run_service.runs.workspace import Workspace
from run_service.sandbox import SandboxUnavailable, SessionPool

logger = logging.getLogger(__name__)

INTERRUPTED = (
    "Interrupted: the run-service process running this run stopped (or lost the thread to "
    "another replica) before it ended. Ask again; the Python session was restarted, so "
    "variables are gone, but the thread's files are kept."
)
ENDED = "ended"
"""The key of a run's terminal event, completed or failed alike: both get the same event id, so
the store takes only the first. If two replicas ever overlap on a run (one cut off from the
database), the later answer is refused instead of ending the run twice."""


class RunFailure(Exception):
    """A run cannot produce an answer; the message is the reason users see."""


class RunProcessor:
    """The run use case: one handler for `run.requested`, safe to call again for any event."""

    def __init__(
        self,
        store: EventStore,
        pool: SessionPool,
        files: FileStore,
        engines: Engines,
        clock: Callable[[], datetime],
        *,
        run_timeout_s: float = 900.0,
        concurrency: int = 4,
    ) -> None:
        self._store = store
        self._pool = pool
        self._files = files
        self._engines = engines
        self._clock = clock
        self._run_timeout_s = run_timeout_s
        self._workspace = Workspace(pool, files)
        self._logs = ThreadLogs(store)
        self._threads = KeyedLocks()
        self._slots = asyncio.Semaphore(max(concurrency, 1))  # runs of different threads at once

    async def on_event(self, event: Envelope) -> None:
        """Bus handler: bring the event's thread up to date with its runs, through this one."""
        if event.type != "run.requested":
            return
        run_id = str(event.payload.get("run_id", ""))
        async with self._threads.hold(event.stream_id):
            log = await self._logs.read(event.stream_id)
            for record in log.unfinished_through(run_id):
                # A run that waited behind others joins the trace of the chat that asked for it.
                own = record.request.run_id == run_id
                trace = None if own else record.event.metadata.get("trace")
                async with self._slots:
                    with run_span(record.request.run_id, event.stream_id, trace):
                        await self._finish(record, log)
                log = await self._logs.read(event.stream_id)  # its answer is history now

    async def _finish(self, record: RunRecord, log: ThreadLog) -> None:
        recorder = _recorder_for(self._store, record, self._clock)
        if record.started:
            logger.warning("run %s was cut off by an earlier crash; failing it", recorder.run_id)
            await self._fail(recorder, INTERRUPTED)
            return
        started = time.perf_counter()
        try:
            await self._execute(record, log, recorder)
        except DuplicateEventError:
            logger.warning("run %s was ended elsewhere; this result is dropped", recorder.run_id)
            recorder.superseded = True
        except Exception as error:  # a fault must end the run, never leave it hanging
            logger.exception("run %s failed", recorder.run_id)
            await self._fail(recorder, f"Internal error in run-service: {type(error).__name__}")
        finally:
            await recorder.close()
            outcome = recorder.outcome
            seconds = time.perf_counter() - started
            RUNS.labels(outcome).inc()
            RUN_SECONDS.labels(outcome).observe(seconds)
            logger.info(
                "run %s of %s %s in %.3f s", recorder.run_id, recorder.thread_id, outcome, seconds
            )

    async def _execute(self, record: RunRecord, log: ThreadLog, recorder: RunRecorder) -> None:
        request = record.request
        choice = self._engines.for_run(request)
        recorder.add(
            "started",
            RunStarted(
                thread_id=request.thread_id,
                run_id=request.run_id,
                engine=choice.name,
                isolation=self._pool.sandbox.isolation_level(),
                started_at=self._clock(),
            ),
        )
        executor = RecordingExecutor(SandboxExecutor(self._pool, request.thread_id), recorder)
        try:
            async with asyncio.timeout(self._run_timeout_s):
                outcome = await self._think(record, log, executor, choice.engine)
                kept = await keep_files(
                    self._pool,
                    self._files,
                    thread_id=request.thread_id,
                    run_id=request.run_id,
                    names=executor.written_files(),
                )
        except RunFailure as failure:
            await self._fail(recorder, str(failure))
            return
        except TimeoutError:
            await self._fail(recorder, f"The run took longer than {self._run_timeout_s:g} s")
            return
        if executor.executions:
            self._pool.note_run(request.thread_id, request.run_id)
        warning = self._pool.sandbox.warning() if executor.executions else None
        answer = "\n\n".join(part for part in (warning, outcome.answer, *kept.problems) if part)
        message_id = answer_message_id(request.run_id)
        now = self._clock()
        await recorder.record(
            (
                "answer",
                AssistantMessagePosted(
                    thread_id=request.thread_id,
                    run_id=request.run_id,
                    message_id=message_id,
                    content=answer,
                    files=tuple(kept.files),
                    annotations=tuple(kept.annotations),
                    created_at=now,
                ),
            ),
            (
                ENDED,
                RunCompleted(
                    thread_id=request.thread_id,
                    run_id=request.run_id,
                    message_id=message_id,
                    steps=outcome.steps,
                    completed_at=now,
                ),
            ),
        )

    async def _think(
        self, record: RunRecord, log: ThreadLog, executor: RecordingExecutor, engine: Engine
    ) -> RunOutcome:
        request = record.request
        try:
            attached = await self._workspace.attach(request.thread_id, log.attached_through(record))
        except FileUnavailable as missing:
            raise RunFailure(f"An attached file could not be used: {missing}") from None
        # The session here is kept only if the thread's last code ran in it; else the next
        # execution is told the variables are gone.
        await self._pool.align(request.thread_id, log.last_code_run)
        message = ""
        if request.message_id is not None:
            message = log.messages.get(request.message_id, ("user", ""))[1]
        run_request = RunRequest(
            message=message,
            history=log.history_before(record),
            files=attached,
            use_code_interpreter=request.use_code_interpreter,
        )
        try:
            return await engine.run(run_request, executor)
        except EngineError as error:
            raise RunFailure(f"The model could not answer: {error}") from None
        except SandboxUnavailable as error:
            raise RunFailure(f"No code can run here: {error}") from None

    async def _fail(self, recorder: RunRecorder, reason: str) -> None:
        failed = RunFailed(
            thread_id=recorder.thread_id,
            run_id=recorder.run_id,
            reason=reason,
            failed_at=self._clock(),
        )
        await recorder.record((ENDED, failed))
        recorder.failed = True


def answer_message_id(run_id: str) -> str:
    """The assistant message's id, fixed by the run so a retried append cannot duplicate it."""
    return "msg_" + run_id.removeprefix("run_")


def _recorder_for(
    store: EventStore, record: RunRecord, clock: Callable[[], datetime]
) -> RunRecorder:
    correlation = record.event.metadata.get("correlation_id")
    return RunRecorder(
        store,
        thread_id=record.request.thread_id,
        run_id=record.request.run_id,
        correlation_id=UUID(correlation) if correlation else record.event.event_id,
        causation_id=record.event.event_id,
        clock=clock,
    )
