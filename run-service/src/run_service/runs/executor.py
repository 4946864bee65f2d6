"""A CodeExecutor that records every execution as a `run.code_executed` event as it happens."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from opentelemetry.trace import Span

from contracts.runs import CodeError, CodeExecuted
from eventkit.ops.metrics import CODE_EXECUTIONS
from eventkit.ops.trace import continued, spanned
from run_service.engines import CodeExecutor, Execution
from run_service.runs.recorder import RunRecorder


class RecordingExecutor:
    """Runs code through `inner`, then appends what happened before the engine sees it."""

    def __init__(self, inner: CodeExecutor, recorder: RunRecorder) -> None:
        self._inner = inner
        self._recorder = recorder
        self.executions: list[Execution] = []

    async def execute(self, code: str) -> Execution:
        if not self.executions:
            # `run.started` is on record before any user code runs: a request redelivered
            # after a crash mid-execution then fails as interrupted instead of running the
            # code again.
            await self._recorder.flush()
        with spanned("execute code") as span:
            execution = await self._inner.execute(code)
            CODE_EXECUTIONS.labels(_outcome(execution)).inc()
            step = len(self.executions)
            self.executions.append(execution)
            # Added inside the span: the event's trace context names this execution.
            self._recorder.add(f"code:{step}", code_executed(self._recorder, step, execution))
            if span.is_recording():
                _describe(span, self._recorder, step, execution)
            return execution

    def written_files(self) -> list[str]:
        """Every file the run's code wrote or changed, first write first, without repeats."""
        return list(dict.fromkeys(name for e in self.executions for name in e.files))


@contextlib.contextmanager
def run_span(run_id: str, thread_id: str, trace: Mapping[str, object] | None) -> Iterator[None]:
    """The span of one run (for `RunProcessor._finish`, around everything it does).

    `trace`: the stored `metadata["trace"]` of the run's `run.requested` event when a later
    delivery carries the run out (a run that waited behind others), so the run joins the trace
    of the chat that asked for it; None when the delivery is the run's own (the consumer span of
    that delivery is then the parent)."""
    with continued(trace), spanned(f"run {run_id}") as span:
        if span.is_recording():
            span.set_attributes({"cie.run_id": run_id, "cie.thread_id": thread_id})
        yield


def _describe(span: Span, recorder: RunRecorder, step: int, execution: Execution) -> None:
    span.set_attributes(
        {
            "cie.thread_id": recorder.thread_id,
            "cie.run_id": recorder.run_id,
            "cie.step": step,
            "cie.duration_ms": max(execution.duration_ms, 0.0),
            "cie.outcome": _outcome(execution),
        }
    )
    if execution.error is not None:
        span.set_attribute("error.type", execution.error.type)


def _outcome(execution: Execution) -> str:
    if execution.state_lost:
        return "session_lost"
    return "ok" if execution.error is None else "error"


def code_executed(recorder: RunRecorder, step: int, execution: Execution) -> CodeExecuted:
    """The event for one execution."""
    error = execution.error
    return CodeExecuted(
        thread_id=recorder.thread_id,
        run_id=recorder.run_id,
        step=step,
        code=execution.code,
        stdout=execution.stdout,
        stderr=execution.stderr,
        result=execution.result,
        error=None
        if error is None
        else CodeError(type=error.type, message=error.message, traceback=error.traceback),
        duration_ms=max(execution.duration_ms, 0.0),
        files=execution.files,
        state_lost=execution.state_lost,
        notice=execution.notice,
    )
