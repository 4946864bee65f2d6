"""The adapter from the sandbox's session pool to the engines' CodeExecutor port."""

from __future__ import annotations

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
    """Runs code in one thread's session of a SessionPool."""

    def __init__(self, pool: SessionPool, thread_id: str) -> None:
        self.pool = pool
        self.thread_id = thread_id

    async def execute(self, code: str) -> Execution:
        """Run one cell in the thread's session."""
        return to_execution(code, await self.pool.execute(self.thread_id, code))
