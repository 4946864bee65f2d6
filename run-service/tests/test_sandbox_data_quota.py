"""The quota on a thread's /mnt/data, enforced while code runs (issue 11, defect 5: one cell
wrote 40 x 100 MiB to /mnt/data, on the disk that also holds the event store)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest
from sandbox_support import TEST_LIMITS, bwrap_pool

from run_service.runs.files import FileUnavailable, InMemoryFileStore
from run_service.runs.workspace import Workspace
from run_service.sandbox import SessionPool
from run_service.sandbox.limits import MiB
from run_service.sandbox.quota import can_limit_writes, usage

LIMITED = can_limit_writes()  # root with CAP_SYS_RESOURCE: writes fail; else cells are stopped
LIMITS = dataclasses.replace(TEST_LIMITS, data_quota_bytes=40 * MiB, max_file_bytes=20 * MiB)

# 5 MiB files, a pause after each longer than the host's poll: the host sees /mnt/data fill.
WRITE_MANY = """
import errno, time
written, refused = 0, None
for n in range(24):
    try:
        with open(f"/mnt/data/part{n}.bin", "wb") as out:
            for _ in range(5):
                out.write(b"x" * 2**20)
                out.flush()
                written += 1
    except OSError as error:
        refused = errno.errorcode[error.errno]
        break
    time.sleep(0.3)
print(written, refused)
"""


@pytest.fixture(scope="module")
async def pool(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SessionPool]:
    """Threads that may keep 40 MiB in /mnt/data."""
    async with bwrap_pool(LIMITS, tmp_path_factory) as started:
        yield started


def _thread() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def test_writes_past_the_quota_fail_inside_the_sandbox(pool: SessionPool) -> None:
    thread = _thread()
    result = await pool.execute(thread, WRITE_MANY)
    if LIMITED:
        written, refused = result.stdout.split()
        assert refused == "EFBIG"  # "File too large": the write itself failed
        assert int(written) < 24 * 5
    else:  # no CAP_SYS_RESOURCE here: the cell is stopped instead
        assert result.error is not None
        assert result.error["type"] == "KeyboardInterrupt"
    # Overshoot is bounded by what the code writes between two polls (here one file).
    assert usage(pool.workdir(thread)) <= LIMITS.data_quota_bytes + 5 * MiB
    assert result.notice is not None
    assert "/mnt/data is full: this thread may keep 40 MiB" in result.notice
    assert ("writes past that failed" if LIMITED else "the code was stopped") in result.notice


async def test_a_full_mnt_data_refuses_every_write_of_the_next_cell(pool: SessionPool) -> None:
    # However fast a cell wrote past the quota, the next one starts with no room.
    if not LIMITED:
        pytest.skip("without CAP_SYS_RESOURCE writes are not limited, cells are stopped")
    thread = _thread()
    await pool.execute(thread, "open('/mnt/data/big.bin', 'wb').write(b'x' * (19 * 2**20))")
    await pool.execute(thread, "open('/mnt/data/big2.bin', 'wb').write(b'x' * (19 * 2**20))")
    await pool.execute(thread, "open('/mnt/data/big3.bin', 'wb').write(b'x' * (19 * 2**20))")
    result = await pool.execute(thread, "open('/mnt/data/one.txt', 'w').write('x')")
    assert result.error is not None
    assert "File too large" in result.error["message"]
    assert result.notice is not None
    assert "/mnt/data is full" in result.notice


async def test_deleting_files_makes_room_again(pool: SessionPool) -> None:
    thread = _thread()
    await pool.execute(thread, WRITE_MANY)
    cleared = await pool.execute(
        thread,
        "import glob, os\nfor f in glob.glob('/mnt/data/part*'): os.remove(f)\n"
        "open('/mnt/data/after.bin', 'wb').write(b'y' * 2**20)",
    )
    assert cleared.error is None, cleared.error
    assert cleared.result == str(2**20)
    assert cleared.notice is None


async def test_a_child_process_is_held_to_the_quota_too(pool: SessionPool) -> None:
    thread = _thread()
    code = (
        "import subprocess, sys\n"
        f"done = subprocess.run([sys.executable, '-c', {WRITE_MANY!r}], capture_output=True, "
        "text=True)\n"
        "print(done.stdout.strip())"
    )
    result = await pool.execute(thread, code)
    if LIMITED:
        assert result.stdout.split()[1] == "EFBIG", result
    else:
        assert result.error is not None
        assert result.error["type"] == "KeyboardInterrupt"
    assert usage(pool.workdir(thread)) <= LIMITS.data_quota_bytes + 5 * MiB


async def test_an_attachment_that_does_not_fit_is_refused(pool: SessionPool) -> None:
    thread = _thread()
    files = InMemoryFileStore()
    small = files.add("small.csv", b"a,b\n" * 1000)
    big = files.add("big.csv", b"x" * (41 * MiB))
    workspace = Workspace(pool, files)
    await workspace.attach(thread, [small])
    with pytest.raises(FileUnavailable, match=r"big\.csv does not fit in the thread's /mnt/data"):
        await workspace.attach(thread, [big])
    assert not pool.has_file(thread, "big.csv")
    assert pool.has_file(thread, "small.csv")
