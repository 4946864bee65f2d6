"""ProgramEngine: runs a built-in program in the sandbox and answers from what it computed.

The contract between a program's cells and this engine: a cell's last expression is a JSON
string, its report. The sandbox hands that value back as the cell's result (a repr), apart
from what the cell prints, so tables the cell prints can never be mistaken for it. Every
sentence of an answer is written from a report; the printed output follows as evidence.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, replace
from typing import Any

from run_service.engines import render
from run_service.engines.port import (
    CodeExecutor,
    Execution,
    ExecutionLog,
    RunOutcome,
    RunRequest,
)
from run_service.programs import analysis
from run_service.programs.examples import EXAMPLES, Example

PROGRAM_NAMES = ("analyze", "data-analysis", "math-computation", "image-generation")

# Importing pandas and matplotlib cold takes seconds; the service preloads them, but where it
# does not, a cell of its own keeps that cost out of each program cell's time limit.
WARM_UP = "import matplotlib.pyplot as plt\nimport numpy as np\nimport pandas as pd\n"

# A report that does not have the expected shape (the session's json module was tampered with,
# say) must give a clear answer, not a failed run.
_BAD_REPORT = (KeyError, IndexError, TypeError, ValueError, AttributeError)


@dataclass(frozen=True)
class Step:
    """One program cell: the execution as the user sees it, and its report if it gave one."""

    execution: Execution
    report: dict[str, Any] | None


def read_report(execution: Execution) -> dict[str, Any] | None:
    """The JSON object a cell left as its last expression, or None."""
    if execution.error is not None or execution.result is None:
        return None
    try:
        report = json.loads(ast.literal_eval(execution.result))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return report if isinstance(report, dict) else None


class ProgramEngine:
    """Runs one of the built-in programs (PROGRAM_NAMES); no model is involved."""

    def __init__(self, name: str) -> None:
        if name not in PROGRAM_NAMES:
            raise ValueError(f"unknown program {name!r}; known: {', '.join(PROGRAM_NAMES)}")
        self.name = name

    async def run(self, request: RunRequest, executor: CodeExecutor) -> RunOutcome:
        """Run the program's cells and write the answer from their reports."""
        cells = _Cells(executor)
        if self.name == "analyze":
            answer = await _analyze(request, cells)
        else:
            answer = await _example(EXAMPLES[self.name], cells)
        executions = tuple(cells.log.executions)
        return RunOutcome(answer=answer, executions=executions, steps=len(executions))


class _Cells:
    """Runs cells in the thread's session and keeps every execution for the record."""

    def __init__(self, executor: CodeExecutor) -> None:
        self.executor = executor
        self.log = ExecutionLog()

    async def warm_up(self) -> None:
        # Its outcome does not matter: a real failure shows again in the cell that needs it.
        await self.log.run(self.executor, WARM_UP)

    async def step(self, code: str) -> Step:
        execution = await self.log.run(self.executor, code)
        report = read_report(execution)
        if report is not None:
            execution = replace(execution, result=None)  # the report is the answer's text
        return Step(execution, report)


def _failed(what: str, execution: Execution) -> str:
    """The answer when a cell raised or gave no usable report, with what it did show."""
    if execution.error is not None:
        error = execution.error
        head = f"The {what} failed with {error.type}: {error.message}".rstrip(": ") + "."
    else:
        head = f"The {what} ended without its summary, so no findings can be stated."
    return f"{head}\n\n{render.for_answer(execution)}"


async def _example(example: Example, cells: _Cells) -> str:
    if example.uses_pandas:
        await cells.warm_up()
    step = await cells.step(example.code)
    what = f"built-in {example.title} program"
    if step.report is None:
        return _failed(what, step.execution)
    try:
        findings = example.describe(step.report)
    except _BAD_REPORT:
        return _failed(what, replace(step.execution, result=None))
    return f"{findings}\n\n{render.for_answer(step.execution)}"


async def _analyze(request: RunRequest, cells: _Cells) -> str:
    if not request.files:
        return analysis.NOTHING_TO_ANALYZE
    jobs = analysis.plan(request.files)
    if analysis.needs_pandas(jobs):
        await cells.warm_up()
    sections = [analysis.preface(request.message, len(jobs))]
    for job in jobs:
        findings = await _analyze_file(job, cells)
        sections.append(f"### {analysis.code(job.file.name)}\n\n{findings}")
    return "\n\n".join(sections)


async def _analyze_file(job: analysis.Job, cells: _Cells) -> str:
    if job.code is None:
        return analysis.unsupported(job.file)
    step = await cells.step(job.code)
    what = f"analysis of {analysis.code(job.file.name)}"
    if step.report is None:
        return _failed(what, step.execution)
    try:
        findings = analysis.describe(job, step.report)
    except _BAD_REPORT:
        return _failed(what, step.execution)
    if not (step.execution.stdout or step.execution.stderr or step.execution.files):
        return findings
    return f"{findings}\n\n{render.for_answer(step.execution)}"
