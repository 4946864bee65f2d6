"""The adapter from the sandbox's session pool to the engines' CodeExecutor port."""

from __future__ import annotations

import time

from run_service.engines.port import ErrorInfo, Execution
from run_service.sandbox import ExecResult, SessionPool


def to_execution(code: str, result: ExecResult) -> Execution:
    """The engines' plain view of a sandbox result."""
    error = None
    if result.error is not None:
        error = ErrorInfo(
            type=result.error.get("type", "Error"),
            message=result.error.get("message", ""),
            traceback=result.error.get("traceback", ""),
        )
    return Execution(
        code=code,
        stdout=result.stdout,
        stderr=result.stderr,
        result=result.result,
        error=error,
        duration_ms=result.duration_ms,
        files=tuple(result.files),
        state_lost=result.state_lost,
        notice=result.notice,
    )


class SandboxExecutor:
    """Runs the code of one run in its thread's session of a SessionPool, all its blocks
    together within the run's code time (`run_code_time_s`): each block gets what is left, at
    most the per-block limit, and a block after that is used up is not run."""

    def __init__(self, pool: SessionPool, thread_id: str) -> None:
        self.pool = pool
        self.thread_id = thread_id
        self.budget_s = pool.limits.run_code_time_s
        self.used_s = 0.0

    async def execute(self, code: str) -> Execution:
        """Run one cell in the thread's session, within what is left of the run's code time."""
        left = self.budget_s - self.used_s
        if left <= 0:
            return Execution(
                code=code,
                error=ErrorInfo(type="RunCodeTimeUsedUp", message=self._used_up(), traceback=""),
                notice=f"{self._used_up()}; this code was not run.",
            )
        per_block = self.pool.limits.exec_timeout_s
        started = time.monotonic()
        try:
            result = await self.pool.execute(self.thread_id, code, min(per_block, left))
        finally:
            self.used_s += time.monotonic() - started
        if result.timed_out and left < per_block:
            result.notice = f"{result.notice or ''} {self._used_up()}.".strip()
        return to_execution(code, result)

    def _used_up(self) -> str:
        return f"The run has used up its {self.budget_s:g} s of code time (all its blocks together)"
