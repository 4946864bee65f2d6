from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def gateway_postgres_url(postgres_url: str) -> str:
    """The test database with the gateway's read-model tables added."""
    from gateway.migrate import upgrade_all

    await upgrade_all(postgres_url)
    return postgres_url


@pytest.fixture
async def gateway_pg_engine(gateway_postgres_url: str) -> AsyncIterator[AsyncEngine]:
    from eventkit.sql import create_engine

    engine = create_engine(gateway_postgres_url)
    yield engine
    await engine.dispose()
