"""CIE_SANDBOX_ISOLATION=none (rlimits only): weaker isolation, same protocol, same paths."""

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


async def test_runs_code_with_state_in_the_workdir_seen_as_mnt_data(session: Session) -> None:
    (session.workdir / "given.csv").write_text("a,b\n1,2\n")
    await session.execute("x = 20")
    r = await session.execute(
        "import os; open('f.txt', 'w').write('1'); x * 2, os.getcwd(), "
        "open('/mnt/data/given.csv').read()"
    )
    assert r.result == repr((40, "/mnt/data", "a,b\n1,2\n"))
    assert r.files == ["f.txt"]
    assert (session.workdir / "f.txt").read_text() == "1"


async def test_the_hosts_mnt_is_left_alone(session: Session) -> None:
    before = os.listdir("/mnt")
    r = await session.execute("import os; sorted(os.listdir('/mnt'))")
    assert r.result == repr(["data"])  # a private tmpfs over /mnt inside
    assert os.listdir("/mnt") == before


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


# Processes of this session's uid that started with or after its worker: a uid handed out
# again may still see the last holder's processes end (a bwrap namespace dies just after bwrap).
OURS = (
    "import os\n"
    "def started(p): return int(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[19])\n"
    "me = started(os.getpid())\n"
    "len([p for p in os.listdir('/proc') if p.isdigit() and os.stat(f'/proc/{p}').st_uid"
    " == os.getuid() and started(p) >= me])"
)


@pytest.mark.skipif(os.geteuid() != 0, reason="a session uid of its own needs root")
async def test_nothing_a_cell_started_outlives_it(session: Session) -> None:
    code = (
        "import subprocess, time\n"
        "subprocess.Popen(['sleep', '120'], start_new_session=True)\n"
        "time.sleep(0.2)\n"
    )
    started = await session.execute(code + OURS)
    after = await session.execute(OURS)

    assert started.result == "2"  # the worker and the sleep, while the cell ran
    assert after.result == "1"  # the worker alone
