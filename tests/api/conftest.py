import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cie_embedded.system import RunsConfig, in_memory_system
from gateway.app import create_app
from run_service.bootstrap import session_pool
from run_service.sandbox import BubblewrapSandbox, SandboxLimits

MAX_BODY = 64 * 1024
SANDBOX_SECRET_VAR = "CIE_TEST_SANDBOX_SECRET"
SANDBOX_SECRET = "cie-api-secret-7c2e"
"""In the service's environment before any session starts: code must never see it."""

API_SANDBOX_LIMITS = SandboxLimits(
    exec_timeout_s=4.0,
    interrupt_grace_s=1.0,
    warm_pool_size=2,
    max_sessions=16,
    preload=("numpy", "pandas", "matplotlib.pyplot"),
)


@pytest.fixture(scope="session")
async def runs(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunsConfig]:
    """One real sandbox pool for every API test (no model: the embedded default), chosen as
    the service chooses it: the packaged bubblewrap, never a weaker fallback."""
    root: Path = tmp_path_factory.mktemp("api-sandbox")
    os.environ[SANDBOX_SECRET_VAR] = SANDBOX_SECRET
    try:
        async with session_pool(root, API_SANDBOX_LIMITS) as pool:
            assert isinstance(pool.sandbox, BubblewrapSandbox), pool.sandbox.isolation_level()
            yield RunsConfig(pool, run_timeout_s=120.0)
    finally:
        del os.environ[SANDBOX_SECRET_VAR]


@pytest.fixture
async def client(runs: RunsConfig) -> AsyncIterator[httpx.AsyncClient]:
    """The whole system in memory, driven over ASGI."""
    app = create_app(lambda: in_memory_system(runs), max_body_bytes=MAX_BODY)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
