from collections.abc import AsyncIterator

import httpx
import pytest

from cie_embedded.system import in_memory_system
from gateway.app import create_app

MAX_BODY = 64 * 1024


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The whole system in memory, driven over ASGI."""
    app = create_app(in_memory_system, max_body_bytes=MAX_BODY)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
