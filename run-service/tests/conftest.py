"""Fixtures for the sandbox tests: bubblewrap availability and a shared pool."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from run_service.sandbox import BubblewrapSandbox, SandboxLimits, SessionPool

SECRET = "cie-test-secret-4f1d9a"


def require_bwrap() -> None:
    """Skip without bubblewrap, but fail under CI=true: CI must exercise the real sandbox."""
    if shutil.which("bwrap") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("bubblewrap (bwrap) is not installed but CI=true requires it")
        pytest.skip("bubblewrap (bwrap) is not installed")


TEST_LIMITS = SandboxLimits(
    exec_timeout_s=5.0,
    interrupt_grace_s=1.0,
    max_file_bytes=20 * 1024 * 1024,
    tmp_bytes=16 * 1024 * 1024,
    warm_pool_size=2,
    max_sessions=8,
    preload=("numpy",),  # keeps restarts fast; a dedicated test covers the full preload
)


@pytest.fixture
def secret() -> str:
    """A value planted in the service's environment that must never reach the sandbox."""
    return SECRET


@pytest.fixture(scope="module")
async def pool(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SessionPool]:
    """A bubblewrap pool shared by a test module; the service env holds a fake secret."""
    require_bwrap()
    os.environ["CIE_FAKE_API_KEY"] = SECRET
    p = SessionPool(BubblewrapSandbox(TEST_LIMITS), pool_root(tmp_path_factory))
    await p.start()
    yield p
    await p.close()


def pool_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pool directory the per-session uids can traverse."""
    root: Path = tmp_path_factory.mktemp("sandbox")
    os.chmod(root, 0o711)
    return root
