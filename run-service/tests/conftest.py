"""Fixtures for the sandbox tests: a bubblewrap pool shared per module."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from sandbox_support import SECRET, TEST_LIMITS, bwrap_pool

from run_service.sandbox import SessionPool


@pytest.fixture
def secret() -> str:
    """A value planted in the service's environment that must never reach the sandbox."""
    return SECRET


@pytest.fixture(scope="module")
async def pool(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SessionPool]:
    """A bubblewrap pool shared by a test module; the service env holds a fake secret."""
    os.environ["CIE_FAKE_API_KEY"] = SECRET
    async with bwrap_pool(TEST_LIMITS, tmp_path_factory) as started:
        yield started
