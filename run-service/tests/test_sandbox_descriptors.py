"""Only the descriptors a session needs cross into the sandbox, whatever the event loop: uvloop
(which uvicorn picks) ignores subprocess's close_fds."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop
from sandbox_support import TEST_LIMITS, require_bwrap

from run_service.sandbox import BubblewrapSandbox, RlimitSandbox, Sandbox

SECRET = b"cie-planted-descriptor-secret-91d3"
LIMITS = dataclasses.replace(TEST_LIMITS, preload=())
# Every descriptor of every process the code can see, read back: none may hold the secret.
LOOK = """
import os
found = []
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        fds = os.listdir(f'/proc/{pid}/fd')
    except OSError:
        continue
    for fd in fds:
        try:
            with open(f'/proc/{pid}/fd/{fd}', 'rb') as f:
                if SECRET in f.read(4096):
                    found.append((pid, fd))
        except OSError:
            pass
try:
    os.lseek(PLANTED, 0, 0)
    found.append(('planted', os.read(PLANTED, 100)))
except OSError:
    pass
found
"""


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[int]:
    """A root-only file opened without close-on-exec in the service, as a supervisor might."""
    secret = tmp_path / "root-only"
    secret.write_bytes(SECRET)
    secret.chmod(0o600)
    fd = os.open(secret, os.O_RDONLY)
    os.set_inheritable(fd, True)
    yield fd
    os.close(fd)


def _seen_inside(sandbox: Sandbox, workdir: Path, planted: int) -> str | None:
    async def look() -> str | None:
        session = await sandbox.start(workdir)
        try:
            code = LOOK.replace("SECRET", repr(SECRET)).replace("PLANTED", str(planted))
            return (await session.execute(code)).result
        finally:
            await session.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(look())


def test_a_planted_descriptor_does_not_reach_bubblewrap_sessions(
    tmp_path: Path, planted: int
) -> None:
    sandbox = BubblewrapSandbox(LIMITS, require_bwrap())
    workdir = tmp_path / "work"
    workdir.mkdir()

    assert _seen_inside(sandbox, workdir, planted) == "[]"


def test_a_planted_descriptor_does_not_reach_unisolated_sessions(
    tmp_path: Path, planted: int
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()

    assert _seen_inside(RlimitSandbox(LIMITS), workdir, planted) == "[]"
