"""NoModelEngine with the real sandbox, fenced-block extraction and engine selection."""

from __future__ import annotations

import uuid

import pytest

from run_service.engines import (
    ModelSettings,
    NoModelEngine,
    OpenAIEngine,
    RunRequest,
    engine_from_settings,
)
from run_service.engines.fences import python_blocks
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
    assert "Output:\n```\n45\n```" in outcome.answer
    assert "Result:\n```\n['a', 'b', 'c']\n```" in outcome.answer
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
    assert "**Block 1 of 2**\n\nThe code ran without output." in outcome.answer
    assert "**Block 2 of 2**\n\nOutput:\n```\n42\n```" in outcome.answer


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
