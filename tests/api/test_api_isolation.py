"""No isolation, no code: what a client sees when the sandbox cannot isolate, and when an
operator chose to run without isolation (CIE_SANDBOX_ISOLATION=none)."""

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cie_embedded.system import RunsConfig, in_memory_system
from gateway.app import create_app
from run_service.bootstrap import session_pool
from run_service.sandbox import RlimitSandbox, UnavailableSandbox
from run_service.testing.fake_bwrap import refusing_bwrap
from tests.api.conftest import API_SANDBOX_LIMITS

LIMITS = dataclasses.replace(API_SANDBOX_LIMITS, warm_pool_size=1)
CODE = "```python\nimport os\nprint('cwd', os.getcwd())\n```"
TABLE = b"region,units,price\nnorth,10,2.5\nsouth,7,3.0\neast,12,2.0\n"


@pytest.fixture
def refusing(tmp_path: Path) -> str:
    """A bwrap like one in a container whose seccomp profile forbids namespaces."""
    return refusing_bwrap(tmp_path)


async def _client(runs: RunsConfig) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(lambda: in_memory_system(runs))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def closed(tmp_path: Path, refusing: str) -> AsyncIterator[httpx.AsyncClient]:
    """The default isolation, on a host where bubblewrap cannot create namespaces."""
    async with session_pool(tmp_path / "sandbox", LIMITS, bwrap_exe=refusing) as pool:
        assert isinstance(pool.sandbox, UnavailableSandbox)
        async for client in _client(RunsConfig(pool, run_timeout_s=60.0)):
            yield client


@pytest.fixture(scope="module")
async def unisolated(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An operator's explicit CIE_SANDBOX_ISOLATION=none."""
    root = tmp_path_factory.mktemp("none-sandbox")
    async with session_pool(root, LIMITS, isolation="none") as pool:
        assert isinstance(pool.sandbox, RlimitSandbox)
        async for client in _client(RunsConfig(pool, run_timeout_s=60.0)):
            yield client


async def _upload(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/upload", files={"file": ("sales.csv", TABLE, "text/csv")})
    assert response.status_code == 200, response.text
    file_id: str = response.json()["file_id"]
    return file_id


async def test_without_isolation_a_chat_fails_naming_the_cause_and_the_fix(
    closed: httpx.AsyncClient,
) -> None:
    response = await closed.post("/api/chat", json={"message": CODE})

    assert response.status_code == 500
    detail = response.json()["detail"]
    assert "No code can run here" in detail
    assert "No permissions to create new namespace" in detail
    assert "CIE_SANDBOX_ISOLATION=none" in detail


async def test_without_isolation_analysis_fails_instead_of_answering_nonsense(
    closed: httpx.AsyncClient,
) -> None:
    file_id = await _upload(closed)

    response = await closed.post(
        "/api/analyze", json={"prompt": "Analyze this dataset", "file_ids": [file_id]}
    )

    assert response.status_code == 500
    assert "No code can run here" in response.json()["detail"]


async def test_without_isolation_readiness_says_why(closed: httpx.AsyncClient) -> None:
    response = await closed.get("/readyz")

    assert response.status_code == 503
    assert "no code can run" in response.text
    assert "No permissions to create new namespace" in response.text


async def test_with_isolation_none_every_answer_says_so(unisolated: httpx.AsyncClient) -> None:
    response = await unisolated.post("/api/chat", json={"message": CODE})

    assert response.status_code == 200, response.text
    message = response.json()["message"]
    assert message.startswith("**Warning: this code ran without isolation**")
    assert "cwd /mnt/data" in message


async def test_with_isolation_none_analysis_reads_the_file_at_mnt_data(
    unisolated: httpx.AsyncClient,
) -> None:
    file_id = await _upload(unisolated)

    response = await unisolated.post(
        "/api/analyze", json={"prompt": "Analyze this dataset", "file_ids": [file_id]}
    )

    assert response.status_code == 200, response.text
    message = response.json()["message"]
    assert "without isolation" in message
    assert "could not be read" not in message
    assert "3 rows" in message
    assert "units" in message


async def test_with_isolation_none_the_examples_run(unisolated: httpx.AsyncClient) -> None:
    response = await unisolated.post("/api/examples/math-computation")

    assert response.status_code == 200, response.text
    assert "without isolation" in response.json()["message"]
