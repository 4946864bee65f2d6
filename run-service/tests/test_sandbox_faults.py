"""Faults around sessions: a start that cannot be set up, a broken reply protocol, a pool
closed while a run waits for its session. Each ends clearly, and nothing is left running."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sandbox_support import TEST_LIMITS

from run_service.sandbox import (
    RlimitSandbox,
    SandboxLimits,
    SandboxUnavailable,
    Session,
    SessionPool,
    default_sandbox,
)
from run_service.sandbox import mounts as mounts_module

LIMITS = dataclasses.replace(TEST_LIMITS, preload=())


def test_mnt_data_can_be_shown_on_this_machine() -> None:
    assert mounts_module.cannot_present("/mnt/data") is None


async def test_without_a_mount_namespace_the_files_are_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mounts_module, "cannot_present", lambda _at: "unshare: EPERM")
    sandbox = default_sandbox(LIMITS, isolation="none")
    assert isinstance(sandbox, RlimitSandbox)
    # As a service that runs as its own uid (without a mount namespace, a root service could
    # not hand an interpreter under /root to a session uid).
    monkeypatch.setattr(sandbox._uids, "take", lambda: None)
    assert "no /mnt/data (unshare: EPERM)" in sandbox.isolation_level()
    (tmp_path / "given.csv").write_text("a\n1\n")
    os.chmod(tmp_path, 0o711)

    session = await sandbox.start(tmp_path)
    try:
        r = await session.execute("import os; os.getcwd(), open('given.csv').read()")
    finally:
        await session.close()

    assert r.result == repr((str(tmp_path), "a\n1\n"))


async def test_a_start_whose_set_up_fails_says_so_and_leaks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_args: object) -> None:
        raise PermissionError("unshare refused")

    monkeypatch.setattr(mounts_module, "present_workdir", refused)
    sandbox = RlimitSandbox(LIMITS)

    for _ in range(3):
        with pytest.raises(SandboxUnavailable, match="could not be set up"):
            await sandbox.start(tmp_path)

    assert sandbox._uids.held == set()


WRITE_TO_PIPES = """
import os
for fd in range(3, 64):
    try:
        if os.readlink(f'/proc/self/fd/{fd}').startswith('pipe:'):
            os.write(fd, LINE)
    except OSError:
        pass
"""


async def test_a_forged_reply_is_not_taken_for_the_cells_answer(tmp_path: Path) -> None:
    pool = SessionPool(RlimitSandbox(dataclasses.replace(LIMITS, warm_pool_size=0)), tmp_path)
    await pool.start()
    forged = b'{"stdout": "FORGED\\n", "result": null, "error": null}\n'
    try:
        first = await pool.execute("thread_f", WRITE_TO_PIPES.replace("LINE", repr(forged)))
        second = await pool.execute("thread_f", "print('second')")
        third = await pool.execute("thread_f", "print('third')")
    finally:
        await pool.close()

    assert "FORGED" not in first.stdout
    assert first.state_lost
    assert (second.stdout, third.stdout) == ("second\n", "third\n")  # nothing shifted


@pytest.mark.parametrize(
    "line",
    [b"garbage\n", b"[1, 2]\n", b"x" * (17 << 20) + b"\n"],
    ids=["not JSON", "not an object", "past the line limit"],
)
async def test_code_that_garbles_the_reply_channel_ends_its_session(
    tmp_path: Path, line: bytes
) -> None:
    pool = SessionPool(RlimitSandbox(dataclasses.replace(LIMITS, warm_pool_size=0)), tmp_path)
    await pool.start()
    try:
        written = "LINE = " + ("b'x' * (17 << 20) + b'\\n'" if len(line) > 100 else repr(line))
        broken = await pool.execute("thread_a", f"kept = 1\n{written}\n{WRITE_TO_PIPES}")
        after = await pool.execute("thread_a", "print('fresh', 'kept' in globals())")
    finally:
        await pool.close()

    assert broken.state_lost
    assert after.stdout == "fresh False\n"  # its own answer, not the garbled cell's
    assert after.state_lost


class _Slow:
    """A sandbox whose sessions take a while to start (counting the starts)."""

    def __init__(self, inner: RlimitSandbox) -> None:
        self.inner = inner
        self.limits = SandboxLimits(warm_pool_size=1, preload=())
        self.starts = 0

    def isolation_level(self) -> str:
        return "slow"

    def warning(self) -> str | None:
        return None

    def release(self) -> None:
        self.inner.release()

    async def start(self, workdir: Path) -> Session:
        self.starts += 1
        await asyncio.sleep(0.5)
        return await self.inner.start(workdir)


async def test_a_pool_closed_while_a_run_waits_starts_nothing_more(tmp_path: Path) -> None:
    slow = _Slow(RlimitSandbox(LIMITS))
    pool = SessionPool(slow, tmp_path)
    await pool.start()
    waiting = asyncio.create_task(pool.execute("thread_w", "1"))
    await asyncio.sleep(0.1)

    await pool.close()

    with pytest.raises(SandboxUnavailable, match="shutting down"):
        await waiting
    await asyncio.sleep(0.7)
    assert slow.starts == 1
    assert pool.live_count == 0
    assert pool.warm_count == 0


def test_mnt_data_is_shown_to_a_service_that_is_not_root() -> None:
    # The user-namespace path of present_workdir, in a child that became an ordinary uid.
    with tempfile.TemporaryDirectory() as where:
        os.chmod(where, 0o777)  # pytest's own tmp_path is closed to other uids
        (Path(where) / "given.csv").write_text("a\n1\n")
        seen, code = _as_ordinary_user(where)

    assert code == 0, seen
    assert seen.split(" ", 1)[1] == "/mnt/data " + repr("a\n1\n")
    assert not seen.startswith("0 ")


AS_ORDINARY_USER = """
import ctypes, os, sys
from pathlib import Path
from run_service.sandbox import mounts
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    # A uid change leaves the process undumpable (/proc/self owned by root), which a service
    # started as that uid is not.
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
mounts.present_workdir(sys.argv[1], "/mnt/data", [])
print(os.getuid(), os.getcwd(), repr(Path("given.csv").read_text()), end="")
"""


def _as_ordinary_user(workdir: str) -> tuple[str, int]:
    """present_workdir in a process of its own running as uid 65534 (a fork of pytest's
    would carry its state): what it saw, its exit code."""
    done = subprocess.run(
        [sys.executable, "-c", AS_ORDINARY_USER, workdir],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout or done.stderr, done.returncode
