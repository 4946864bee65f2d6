"""The engine port: what a run gives an engine, what it gets back, and how code is executed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

DATA_DIR = "/mnt/data"


class EngineError(Exception):
    """The engine could not produce an answer (model server down, refused or too slow)."""


@dataclass(frozen=True)
class HistoryMessage:
    """One earlier message of the thread."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class AttachedFile:
    """A file in the thread's /mnt/data, with its profile from file-service if known."""

    name: str
    path: str  # as the code sees it, e.g. /mnt/data/sales.csv
    profile: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunRequest:
    """Everything an engine needs to answer one user message."""

    message: str
    history: tuple[HistoryMessage, ...] = ()
    files: tuple[AttachedFile, ...] = ()
    use_code_interpreter: bool = True


@dataclass(frozen=True)
class ErrorInfo:
    """An exception raised by the executed code."""

    type: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class Execution:
    """One piece of code run in the session and what came of it (later one event)."""

    code: str
    stdout: str = ""
    stderr: str = ""
    result: str | None = None  # repr of the last expression, like a notebook cell
    error: ErrorInfo | None = None
    duration_ms: float = 0.0
    files: tuple[str, ...] = ()  # files created or changed, relative to /mnt/data
    state_lost: bool = False  # the session restarted: variables and imports are gone
    notice: str | None = None


@dataclass(frozen=True)
class RunOutcome:
    """The final answer of a run, the executions it made and why it stopped early, if it did."""

    answer: str
    executions: tuple[Execution, ...] = ()
    steps: int = 0
    stopped_early: str | None = None  # e.g. the step limit; None when the engine finished


class CodeExecutor(Protocol):
    """Runs code in the thread's persistent Python session."""

    async def execute(self, code: str) -> Execution:
        """Run one cell and report its output, error and files."""
        ...


class Engine(Protocol):
    """How a run thinks: turns a request into an answer, executing code on the way."""

    async def run(self, request: RunRequest, executor: CodeExecutor) -> RunOutcome:
        """Answer the request; raise EngineError when no answer can be produced."""
        ...


@dataclass
class ExecutionLog:
    """Collects the executions of one run in order (a helper for engines)."""

    executions: list[Execution] = field(default_factory=list)

    async def run(self, executor: CodeExecutor, code: str) -> Execution:
        """Execute code and remember the result."""
        execution = await executor.execute(code)
        self.executions.append(execution)
        return execution
