"""Limits on a session as a whole (its cgroup): memory of all its processes together, a CPU
ceiling, and nothing of it left once it is gone (issue 11, defects 4 and 7)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from sandbox_support import TEST_LIMITS, bwrap_pool, require_session_groups

from run_service.sandbox import SessionPool
from run_service.sandbox.cgroups import CgroupGroup, CgroupGroups, NoGroups, session_groups
from run_service.sandbox.limits import MiB

# /tmp and /dev/shm may hold more than the session's memory: the session limit binds first.
LIMITS = dataclasses.replace(
    TEST_LIMITS, session_memory_bytes=300 * MiB, tmp_bytes=512 * MiB, exec_timeout_s=20.0
)


@pytest.fixture(scope="module")
async def pool(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SessionPool]:
    """A bubblewrap pool whose sessions may hold 300 MiB together and use one CPU."""
    require_session_groups(LIMITS)
    async with bwrap_pool(LIMITS, tmp_path_factory) as started:
        yield started


FORKED_HOLDERS = """
import os, time, numpy as np
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        held = np.ones(150 * 2**20 // 8)  # 150 MiB, every page touched
        time.sleep(2)
        os._exit(0)
    children.append(pid)
print(sorted(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children))
"""


async def test_forked_children_share_one_memory_limit(pool: SessionPool) -> None:
    # Repro: three forked children each holding 700 MiB made one session 2.5 GiB, each
    # under its own RLIMIT_AS. Scaled down: 3 x 150 MiB against a 300 MiB session.
    result = await pool.execute("t-forks", FORKED_HOLDERS)
    assert result.error is None, result.error
    codes = eval(result.stdout)  # the children's exit codes, e.g. [-9, 0, 0]
    assert -9 in codes  # the kernel killed one: all three did not fit
    assert result.notice is not None
    assert "over the session's memory limit (300 MiB" in result.notice
    # The session itself lives on.
    assert (await pool.execute("t-forks", "1 + 1")).result == "2"


async def test_dev_shm_counts_against_the_session(pool: SessionPool) -> None:
    # Pages of the session's tmpfs are charged to it too: 400 MiB fit in its 512 MiB
    # /dev/shm but not in its 300 MiB of memory.
    code = (
        "import os\n"
        "try:\n"
        "    for n in range(400):\n"  # files of 1 MiB: under the per-file limit
        "        with open(f'/dev/shm/x{n}', 'wb') as f: f.write(b'x' * 2**20)\n"
        "    print('wrote all')\n"
        "except OSError as e: print('refused', e.errno)\n"
    )
    result = await pool.execute("t-shm", code)
    assert "wrote all" not in result.stdout
    assert result.notice is not None
    assert "over the session's memory limit (300 MiB" in result.notice


SPINNERS = """
import multiprocessing as mp, time
def spin(_):
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        pass
    return time.process_time()
with mp.get_context("fork").Pool(2) as workers:
    print(sum(workers.map(spin, range(2))))
"""


async def test_a_session_uses_at_most_its_cpu_ceiling(pool: SessionPool) -> None:
    # Repro: four chats of four busy processes each took every core. Two processes spinning
    # 2 s under a one-CPU ceiling get about 2 CPU seconds between them, not 4.
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: a ceiling of one cannot be told apart")
    result = await pool.execute("t-cpu", SPINNERS)
    assert result.error is None, result.error
    cpu_seconds = float(result.stdout)
    assert cpu_seconds < 2.0 * 1.3, cpu_seconds


async def test_nothing_of_a_session_outlives_it(pool: SessionPool) -> None:
    # A process that left the worker's process group and session (double fork + setsid) is
    # still in the session's cgroup: when the session ends it is killed, and the uid is
    # given back only then (a uid handed out again never meets a process of the last holder).
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(300)\n"
        "    os._exit(0)\n"
        "time.sleep(0.2)\n"
    )
    await pool.execute("t-left", code)
    session = pool._live["t-left"]
    assert isinstance(session.group, CgroupGroup)
    uid = session.uid
    assert len(session.group.pids()) >= 1
    await pool.close_sessions(lambda thread: thread == "t-left")
    assert session.group.pids() == []
    if uid is not None:
        assert _processes_of(uid) == []  # zombies too: the service reaped them
    assert not _any_exists(session.group.dirs.values())


def _any_exists(paths: Iterable[Path]) -> bool:
    return any(path.exists() for path in paths)


def _processes_of(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("Uid:") and int(line.split()[1]) == uid:
                    found.append(int(entry))
    return found


async def test_readiness_names_the_session_limits(pool: SessionPool) -> None:
    level = pool.sandbox.isolation_level()
    assert "session cgroup v" in level
    assert "memory 300 MiB" in level
    assert "cpu 1" in level


def test_without_a_cgroup_hierarchy_the_reason_is_said(tmp_path: Path) -> None:
    (tmp_path / "self").mkdir()
    (tmp_path / "self/cgroup").write_text("0::/\n")
    (tmp_path / "self/mountinfo").write_text("22 1 0:20 / /proc rw,nosuid - proc proc rw\n")
    groups = session_groups(TEST_LIMITS, proc=tmp_path)
    assert isinstance(groups, NoGroups)
    assert "memory and processes limited per process" in groups.in_force()
    assert "no cgroup hierarchy" in groups.in_force()


def test_turned_off_by_a_zero_session_memory() -> None:
    groups = session_groups(dataclasses.replace(TEST_LIMITS, session_memory_bytes=0))
    assert isinstance(groups, NoGroups)
    assert "CIE_SANDBOX_SESSION_MEMORY_MB=0" in groups.in_force()


def test_groups_a_dead_process_left_are_removed_at_start() -> None:
    require_session_groups(LIMITS)
    groups = session_groups(LIMITS)
    assert isinstance(groups, CgroupGroups)
    shared = {parent.parent for parent in groups.parents.values()}
    dead = 2**22 + 7  # above pid_max's default range: no such process
    left = [directory / f"p{dead}" / "0123456789abcdef" for directory in shared]
    for directory in left:
        directory.mkdir(parents=True)
    session_groups(LIMITS)  # the next start cleans up
    assert not any(directory.parent.exists() for directory in left)
