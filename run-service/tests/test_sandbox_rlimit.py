"""The rlimit-only fallback (no bubblewrap): weaker isolation, same protocol."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sandbox_support import SECRET, TEST_LIMITS

from run_service.sandbox import RlimitSandbox, Session


@pytest.fixture(scope="module")
async def session(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Session]:
    """One fallback session over a fresh directory."""
    os.environ["CIE_FAKE_API_KEY"] = SECRET
    workdir: Path = tmp_path_factory.mktemp("rlimit")
    sandbox = RlimitSandbox(dataclasses.replace(TEST_LIMITS, preload=()))
    assert "rlimits-only" in sandbox.isolation_level()
    s = await sandbox.start(workdir)
    yield s
    await s.close()


async def test_runs_code_with_state_in_the_workdir(session: Session) -> None:
    await session.execute("x = 20")
    r = await session.execute("import os; open('f.txt', 'w').write('1'); x * 2, os.getcwd()")
    assert r.result == repr((40, str(session.workdir)))
    assert r.files == ["f.txt"]


async def test_env_is_an_allow_list(session: Session) -> None:
    r = await session.execute(f"import os; {SECRET!r} in str(os.environ)")
    assert r.result == "False"


async def test_limits_apply(session: Session) -> None:
    r = await session.execute("bytearray(3 << 30)")
    assert r.error is not None
    assert r.error["type"] == "MemoryError"
    r = await session.execute("while True: pass", timeout=0.5)
    assert r.timed_out
    assert (await session.execute("x")).result == "20"


@pytest.mark.skipif(os.geteuid() != 0, reason="uid switching needs root")
async def test_runs_as_a_non_root_uid(session: Session) -> None:
    r = await session.execute("import os; os.getuid()")
    assert r.result is not None
    assert int(r.result) >= TEST_LIMITS.uid_base
