"""Only the descriptors a session needs cross into the sandbox, whatever the event loop: uvloop
(which uvicorn picks) ignores subprocess's close_fds.

Each case runs in a process of its own, as the service would: a uvloop loop inside pytest's
process would take over its child-process handling for the tests that follow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_support import require_bwrap

SECRET = "cie-planted-descriptor-secret-91d3"
# Plants an inheritable descriptor on a root-only file (as a supervisor might leave one),
# starts a session under uvloop, and prints what the code inside found of it: every
# descriptor of every process it can see, and the planted number itself.
SERVICE = """
import asyncio, os, sys, uvloop
from pathlib import Path
from run_service.sandbox import BubblewrapSandbox, RlimitSandbox, SandboxLimits

secret, workdir, kind, bwrap = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
planted = os.open(secret, os.O_RDONLY)
os.set_inheritable(planted, True)
LOOK = '''
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
'''

async def main():
    limits = SandboxLimits(preload=(), warm_pool_size=0)
    sandbox = BubblewrapSandbox(limits, bwrap) if kind == "bubblewrap" else RlimitSandbox(limits)
    session = await sandbox.start(workdir)
    try:
        code = LOOK.replace("SECRET", repr(secret.read_bytes())).replace("PLANTED", str(planted))
        print((await session.execute(code)).result)
    finally:
        await session.close()

uvloop.run(main())
"""


@pytest.mark.parametrize("kind", ["bubblewrap", "none"])
def test_a_planted_descriptor_does_not_reach_a_session(tmp_path: Path, kind: str) -> None:
    bwrap = require_bwrap() if kind == "bubblewrap" else ""
    secret = tmp_path / "root-only"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    workdir = tmp_path / "work"
    workdir.mkdir()

    done = subprocess.run(
        [sys.executable, "-c", SERVICE, str(secret), str(workdir), kind, bwrap],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
