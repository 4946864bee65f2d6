"""pytest plugin: a migrated throw-away PostgreSQL database for the test session.

`postgres_url` finds a server (eventkit.testing.services, in this order):
1. $CIE_TEST_POSTGRES_URL (an admin URL), when set;
2. the local default, postgresql+asyncpg://postgres@127.0.0.1:5432/postgres, when it answers a
   quick connection;
3. a testcontainers PostgreSQL, when a Docker engine answers;
4. none: tests needing it are skipped, or fail under CI=true. A container that does not start
   (an image that cannot be pulled, say) is reported as such, with the same skip or fail.
It creates a fresh `cie_test_<random>` database, runs eventkit's migrations on it and drops it
at the end. Mark such tests `@pytest.mark.postgres`.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.migrate import upgrade_event_store
from eventkit.sql import create_engine
from eventkit.testing.services import (
    CONNECT_TIMEOUT_S,
    ServiceSpec,
    Source,
    choose,
    not_answering_message,
    nothing_message,
    start_container,
    unavailable,
)

POSTGRES_URL_ENV = "CIE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CONTAINER_IMAGE = "postgres:15-alpine"
SERVER_TIMEOUT_S = 5.0  # a server named in the environment, or a fresh container
POSTGRES = ServiceSpec("PostgreSQL", POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL, CONTAINER_IMAGE)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a fresh, migrated database, dropped when the session ends."""
    decision = await choose(POSTGRES, _local_answers)
    container: Any = None
    try:
        if decision.source is Source.NONE:
            unavailable(nothing_message(POSTGRES), fail=decision.fail)
        if decision.source is Source.CONTAINER:
            container = await asyncio.to_thread(_start_container, decision.fail)
            admin_url = str(container.get_connection_url())
        else:
            assert decision.url is not None
            admin_url = decision.url
        if decision.source is not Source.LOCAL:  # the local one answered just now
            error = await _server_error(admin_url, SERVER_TIMEOUT_S)
            if error is not None:
                unavailable(
                    not_answering_message(POSTGRES, decision.source, admin_url, error),
                    fail=decision.fail,
                )
        name = f"cie_test_{uuid.uuid4().hex[:12]}"
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        await _execute_autocommit(admin_url, f'CREATE DATABASE "{name}"')
        try:
            await upgrade_event_store(url)
            yield url
        finally:
            await _execute_autocommit(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        if container is not None:
            await asyncio.to_thread(container.stop)


@pytest_asyncio.fixture(loop_scope="session")
async def pg_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the session's test database, disposed after the test."""
    engine = create_engine(postgres_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _local_answers(url: str) -> bool:
    return await _server_error(url, CONNECT_TIMEOUT_S) is None


async def _server_error(url: str, timeout: float) -> BaseException | None:
    """None when a PostgreSQL server at `url` runs `SELECT 1` within `timeout` s, else why not."""
    try:
        await asyncio.wait_for(_execute_autocommit(url, "SELECT 1"), timeout)
    except Exception as exc:
        return exc
    return None


def _start_container(fail: bool) -> Any:
    """A started PostgreSQL container; on failure, skip or fail saying testcontainers failed."""
    from testcontainers.community.postgres import PostgresContainer

    return start_container(
        POSTGRES, lambda: PostgresContainer(CONTAINER_IMAGE, driver="asyncpg"), fail=fail
    )


async def _execute_autocommit(url: str, statement: str) -> None:
    # CREATE/DROP DATABASE refuse to run inside a transaction block.
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()
