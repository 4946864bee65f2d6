"""One run's code blocks together stay within the run's code time (issue 11, defect 7: two
`time.sleep(50)` blocks in one message ran 102 s past a "60 s" limit)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from sandbox_support import TEST_LIMITS, bwrap_pool

from run_service.engines import NoModelEngine, RunRequest
from run_service.engines.sandbox_executor import SandboxExecutor
from run_service.sandbox import SessionPool

LIMITS = dataclasses.replace(TEST_LIMITS, exec_timeout_s=5.0, run_code_time_s=3.0)


@pytest.fixture(scope="module")
async def pool(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SessionPool]:
    """Blocks of at most 5 s, runs of at most 3 s of code."""
    async with bwrap_pool(LIMITS, tmp_path_factory) as started:
        yield started


def _executor(pool: SessionPool) -> SandboxExecutor:
    return SandboxExecutor(pool, f"t-{uuid.uuid4().hex[:8]}")


async def test_the_blocks_of_a_run_share_its_code_time(pool: SessionPool) -> None:
    executor = _executor(pool)
    started = time.monotonic()
    first = await executor.execute("import time; time.sleep(2); print('first')")
    second = await executor.execute("time.sleep(2); print('second')")
    elapsed = time.monotonic() - started
    assert first.stdout == "first\n"
    assert second.stdout == ""  # interrupted after the second left of the run's 3 s
    assert second.notice is not None
    assert "used up its 3 s of code time" in second.notice
    assert elapsed < 3.0 + LIMITS.interrupt_grace_s + 0.5
    third = await executor.execute("print('third')")
    assert third.stdout == ""
    assert third.error is not None
    assert third.error.type == "RunCodeTimeUsedUp"
    assert third.notice is not None
    assert "this code was not run" in third.notice


async def test_a_new_run_has_its_own_code_time(pool: SessionPool) -> None:
    thread = f"t-{uuid.uuid4().hex[:8]}"
    await SandboxExecutor(pool, thread).execute("import time; time.sleep(2.5)")
    again = await SandboxExecutor(pool, thread).execute("time.sleep(1); print('ran')")
    assert again.stdout == "ran\n"


async def test_the_answer_says_the_code_time_ran_out(pool: SessionPool) -> None:
    message = (
        "```python\nimport time; time.sleep(2)\n```\n```python\ntime.sleep(2)\nprint('late')\n```"
    )
    outcome = await NoModelEngine().run(RunRequest(message=message), _executor(pool))
    assert "used up its 3 s of code time" in outcome.answer
    assert "late" not in outcome.answer.replace("print('late')", "")
