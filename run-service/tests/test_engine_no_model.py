"""NoModelEngine with the real sandbox, fenced-block extraction and engine selection."""

from __future__ import annotations

import uuid

import pytest

from run_service.engines import (
    ErrorInfo,
    Execution,
    ModelSettings,
    NoModelEngine,
    RunRequest,
    engine_from_settings,
    render,
)
from run_service.engines.fences import python_blocks
from run_service.engines.openai_engine import OpenAIEngine
from run_service.engines.sandbox_executor import SandboxExecutor
from run_service.sandbox import SessionPool

ENV_VARS = ("CIE_MODEL_BASE_URL", "CIE_MODEL_API_KEY", "CIE_MODEL_NAME")


def executor(pool: SessionPool) -> SandboxExecutor:
    """An executor on a fresh thread of the shared pool."""
    return SandboxExecutor(pool, f"t-{uuid.uuid4().hex[:8]}")


async def test_fenced_block_runs_and_its_output_is_the_answer(pool: SessionPool) -> None:
    message = "Please run:\n```python\nprint(sum(range(10)))\nsorted('cba')\n```\n"

    outcome = await NoModelEngine().run(RunRequest(message=message), executor(pool))

    (run,) = outcome.executions
    assert (run.stdout, run.result, run.error) == ("45\n", "['a', 'b', 'c']", None)
    assert outcome.answer.startswith(
        "**The code**\n\n```python\nprint(sum(range(10)))\nsorted('cba')\n```\n\n"
        "Output:\n```\n45\n```\n\nResult:\n```\n['a', 'b', 'c']\n```"
    )
    assert outcome.steps == 1
    assert outcome.stopped_early is None


async def test_error_answer_shows_the_traceback_and_skips_later_blocks(
    pool: SessionPool,
) -> None:
    message = "```py\nprint('before')\n{}['missing']\n```\n```python\nprint('never printed')\n```"

    outcome = await NoModelEngine().run(RunRequest(message=message), executor(pool))

    (run,) = outcome.executions
    assert run.error is not None
    assert run.error.type == "KeyError"
    assert "Error (KeyError: 'missing')" in outcome.answer
    assert "Traceback (most recent call last)" in outcome.answer
    assert "before" in outcome.answer
    assert "never printed" not in outcome.answer
    assert "1 later block(s) were not run" in outcome.answer
    assert outcome.stopped_early == "block 1 raised KeyError"


async def test_blocks_share_one_session(pool: SessionPool) -> None:
    message = "First:\n```python\ntotal = 40\n```\nThen:\n```python\nprint(total + 2)\n```\n"

    outcome = await NoModelEngine().run(RunRequest(message=message), executor(pool))

    assert [e.stdout for e in outcome.executions] == ["", "42\n"]
    assert "**Block 1 of 2**\n\n```python\ntotal = 40\n```\n\nThe code ran without output." in (
        outcome.answer
    )
    assert "**Block 2 of 2**\n\n```python\nprint(total + 2)\n```\n\nOutput:\n```\n42\n```" in (
        outcome.answer
    )


async def test_generated_files_are_named(pool: SessionPool) -> None:
    code = "import pandas as pd\npd.DataFrame({'a': [1, 2]}).to_csv('out.csv', index=False)"
    message = f"```python\n{code}\n```"

    outcome = await NoModelEngine().run(RunRequest(message=message), executor(pool))

    assert outcome.executions[0].files == ("out.csv",)
    assert "Files written to /mnt/data: `out.csv`" in outcome.answer


async def test_plain_message_says_no_model_is_configured(pool: SessionPool) -> None:
    outcome = await NoModelEngine().run(
        RunRequest(message="What is the average of my sales?"), executor(pool)
    )

    assert outcome.executions == ()
    assert outcome.answer.startswith("No model is configured")
    for name in ENV_VARS:
        assert name in outcome.answer


async def test_without_code_interpreter_and_model_says_so(pool: SessionPool) -> None:
    request = RunRequest(message="```python\nprint(1)\n```", use_code_interpreter=False)

    outcome = await NoModelEngine().run(request, executor(pool))

    assert outcome.executions == ()
    assert "No model is configured, and the code interpreter is off" in outcome.answer
    assert "CIE_MODEL_NAME" in outcome.answer


def test_python_blocks_in_order_ignoring_other_languages() -> None:
    text = (
        "```bash\nls\n```\n```python\na = 1\n```\ntext\n```PY\nb = 2\n```\n"
        "````python\nc = '```'\n````\n```python\nunclosed = True\n"
    )
    assert python_blocks(text) == ["a = 1\n", "b = 2\n", "c = '```'\n"]


def test_no_model_engine_without_a_model_name() -> None:
    settings = ModelSettings(base_url="http://localhost:11434/v1", name=None)
    assert isinstance(engine_from_settings(settings), NoModelEngine)


def test_openai_engine_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIE_MODEL_BASE_URL", "http://localhost:11434/v1")
    monkeypatch.setenv("CIE_MODEL_API_KEY", "sk-local")
    monkeypatch.setenv("CIE_MODEL_NAME", "llama3.1")
    monkeypatch.setenv("CIE_MODEL_MAX_STEPS", "3")

    engine = engine_from_settings(ModelSettings())

    assert isinstance(engine, OpenAIEngine)
    assert (engine.model, engine.max_steps) == ("llama3.1", 3)


async def test_lost_variables_are_announced(pool: SessionPool) -> None:
    run = executor(pool)
    await NoModelEngine().run(RunRequest(message="```python\nkept = 1\n```"), run)
    crash = RunRequest(message="```python\nimport os\nos._exit(3)\n```")

    crashed = await NoModelEngine().run(crash, run)
    after = await NoModelEngine().run(RunRequest(message="```python\nkept\n```"), run)

    assert crashed.executions[0].state_lost
    assert "Note: the sandbox process exited" in crashed.answer
    assert after.executions[0].state_lost
    assert "variables and imports were lost" in after.answer
    assert "NameError" in after.answer


async def test_each_block_is_shown_with_its_own_output_in_order(pool: SessionPool) -> None:
    message = (
        "```python\nprint('one')\n```\nand\n```python\nprint('two')\n```\n"
        "```python\nprint('three')\n```"
    )

    outcome = await NoModelEngine().run(RunRequest(message=message), executor(pool))

    answer = outcome.answer
    pieces = [
        "**Block 1 of 3**",
        "```python\nprint('one')\n```",
        "Output:\n```\none\n```",
        "**Block 2 of 3**",
        "```python\nprint('two')\n```",
        "Output:\n```\ntwo\n```",
        "**Block 3 of 3**",
        "```python\nprint('three')\n```",
        "Output:\n```\nthree\n```",
    ]
    positions = [answer.index(piece) for piece in pieces]
    assert positions == sorted(positions), answer


async def test_a_failed_block_is_shown_with_its_code_and_a_clean_traceback(
    pool: SessionPool,
) -> None:
    message = "```python\nvalues = [1, 2]\nvalues[5]\n```"

    outcome = await NoModelEngine().run(RunRequest(message=message), executor(pool))

    assert "```python\nvalues = [1, 2]\nvalues[5]\n```" in outcome.answer
    assert 'File "<cell>", line 2, in <module>' in outcome.answer
    assert "    values[5]" in outcome.answer
    assert "worker.py" not in outcome.answer
    assert "IndexError: list index out of range" in outcome.answer


async def test_a_plot_label_as_the_last_line_prints_no_result(pool: SessionPool) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.ylabel('Units')"

    outcome = await NoModelEngine().run(
        RunRequest(message=f"```python\n{code}\n```"), executor(pool)
    )

    assert outcome.executions[0].result is None
    assert "Result" not in outcome.answer
    assert "Text(" not in outcome.answer


def test_fences_are_longer_than_any_backtick_run_inside() -> None:
    execution = Execution(code="s = '```'\nprint(s)", stdout="```\n", result="'````'")

    answer = render.for_answer(execution, show_code=True)

    assert "````python\ns = '```'\nprint(s)\n````" in answer
    assert "Output:\n````\n```\n````" in answer
    assert "Result:\n`````\n'````'\n`````" in answer


def test_the_code_is_shown_only_when_asked() -> None:
    execution = Execution(code="print(1)", stdout="1\n")

    assert "print(1)" not in render.for_answer(execution)
    assert render.for_answer(execution, show_code=True).startswith("```python\nprint(1)\n```")
    assert render.code_block("") == "```python\n```"


def test_the_model_is_told_about_a_time_limit() -> None:
    notice = "The code ran past its 5 s time limit and was interrupted; the variables are kept."
    execution = Execution(
        code="while True: pass",
        error=ErrorInfo("KeyboardInterrupt", "", "Traceback …\nKeyboardInterrupt"),
        notice=notice,
    )

    text = render.for_model(execution)

    assert f"[notice] {notice}" in text
    assert "[error]\nTraceback …\nKeyboardInterrupt" in text


def test_the_error_heading_is_one_short_line() -> None:
    interrupted = Execution(
        code="while True: pass",
        error=ErrorInfo("KeyboardInterrupt", "", "Traceback …\nKeyboardInterrupt"),
    )
    long_message = "first line " + "x" * 5000 + "\nsecond line"
    verbose = Execution(code="f()", error=ErrorInfo("ValueError", long_message, "Traceback …"))

    assert "Error (KeyboardInterrupt):\n```\nTraceback …" in render.for_answer(interrupted)
    heading = render.for_answer(verbose).split("\n", 1)[0]
    assert heading.startswith("Error (ValueError: first line xxx")
    assert heading.endswith("…):")
    assert len(heading) < 300
