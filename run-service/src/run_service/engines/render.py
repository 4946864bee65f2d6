"""Text renderings of executions: for the user's answer and, capped, for the model."""

from __future__ import annotations

import re

from run_service.engines.port import Execution

# The model sees a capped view: a runaway print must not blow its context window.
TOOL_OUTPUT_CHARS = 4000
ANSWER_OUTPUT_CHARS = 20000
HEADING_CHARS = 200


def cap(text: str, limit: int) -> str:
    """Keep the head and tail of a long text, saying how much was cut."""
    if len(text) <= limit:
        return text
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n… [{cut} characters omitted] …\n{text[-half:]}"


_BACKTICKS = re.compile(r"`{3,}")


def _fence(text: str, info: str = "") -> str:
    """A fenced block longer than any run of backticks in the text, so none can close it."""
    fence = "`" * max([3, *(len(run) + 1 for run in _BACKTICKS.findall(text))])
    body = text.rstrip("\n")
    return f"{fence}{info}\n{body}\n{fence}" if body else f"{fence}{info}\n{fence}"


def _error_heading(kind: str, message: str) -> str:
    """`Type: first line of the message`, short: the whole message is in the traceback."""
    lines = message.strip().splitlines()
    first = lines[0] if lines else ""
    if len(first) > HEADING_CHARS or len(lines) > 1:
        first = first[:HEADING_CHARS].rstrip() + "…"
    return f"{kind}: {first}" if first else kind


def code_block(code: str) -> str:
    """The code as a ```python block (never cut: it is what ran)."""
    return _fence(code, "python")


def for_answer(execution: Execution, *, show_code: bool = False) -> str:
    """Markdown for the user: what the code printed, its value, error, files and notices.

    With show_code, the code itself comes first, as a ```python block.
    """
    parts: list[str] = []
    if execution.notice or execution.state_lost:
        parts.append(f"Note: {execution.notice or 'the Python session was restarted.'}")
    if execution.stdout:
        parts.append("Output:\n" + _fence(cap(execution.stdout, ANSWER_OUTPUT_CHARS)))
    if execution.result is not None:
        parts.append("Result:\n" + _fence(cap(execution.result, ANSWER_OUTPUT_CHARS)))
    if execution.stderr:
        parts.append("Standard error:\n" + _fence(cap(execution.stderr, ANSWER_OUTPUT_CHARS)))
    if execution.error is not None:
        err = execution.error
        detail = err.traceback or f"{err.type}: {err.message}"
        parts.append(
            f"Error ({_error_heading(err.type, err.message)}):\n"
            + _fence(cap(detail, ANSWER_OUTPUT_CHARS))
        )
    if execution.files:
        names = ", ".join(f"`{name}`" for name in execution.files)
        parts.append(f"Files written to /mnt/data: {names}")
    if not parts:
        parts.append("The code ran without output.")
    if show_code:
        parts.insert(0, code_block(execution.code))
    return "\n\n".join(parts)


def for_model(execution: Execution) -> str:
    """A compact, capped plain-text report of one execution for a `tool` message."""
    lines: list[str] = []
    if execution.state_lost:
        lines.append(
            f"[notice] {execution.notice or 'session restarted'}: re-run imports and variables"
        )
    elif execution.notice:  # e.g. the time limit: the model must not retry the same thing
        lines.append(f"[notice] {execution.notice}")
    if execution.stdout:
        lines.append("[stdout]\n" + cap(execution.stdout, TOOL_OUTPUT_CHARS))
    if execution.result is not None:
        lines.append("[result]\n" + cap(execution.result, TOOL_OUTPUT_CHARS))
    if execution.stderr:
        lines.append("[stderr]\n" + cap(execution.stderr, TOOL_OUTPUT_CHARS))
    if execution.error is not None:
        err = execution.error
        lines.append(
            "[error]\n" + cap(err.traceback or f"{err.type}: {err.message}", TOOL_OUTPUT_CHARS)
        )
    if execution.files:
        lines.append("[files in /mnt/data] " + ", ".join(execution.files))
    return "\n".join(lines) or "(no output)"
