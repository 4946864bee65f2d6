"""Fixtures: file-service in process over in-memory or SQLite + local-disk adapters."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from file_service.bootstrap import FileServiceDeps
from file_service.testing.harness import memory_deps, serving, sqlite_deps

TEST_LIMIT = 4 << 20
"""Upload limit in these tests: small, so over-limit uploads are cheap (test_file_api.py
spells it out as "4 MiB" in an expected message)."""


@pytest.fixture(params=["memory", "sqlite"])
async def deps(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FileServiceDeps]:
    """The adapters, in memory or on SQLite and local disk."""
    if request.param == "memory":
        yield memory_deps(TEST_LIMIT)
    else:
        async with sqlite_deps(tmp_path, TEST_LIMIT) as opened:
            yield opened


@pytest.fixture
async def client(deps: FileServiceDeps) -> AsyncIterator[httpx.AsyncClient]:
    """A client of file-service running on `deps`."""
    async with serving(deps) as opened:
        yield opened
