"""pytest plugin: a migrated throw-away PostgreSQL database for the test session.

`postgres_url` finds a server: $CIE_TEST_POSTGRES_URL if set, else a testcontainers
PostgreSQL when a Docker engine answers, else the local default. It creates a fresh
`cie_test_<random>` database, runs eventkit's migrations on it and drops it at the end.
With no server answering, tests needing it are skipped, or fail under CI=true.
Mark such tests `@pytest.mark.postgres`.
"""

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.migrate import upgrade_event_store
from eventkit.sql import create_engine

POSTGRES_URL_ENV = "CIE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CONTAINER_IMAGE = "postgres:15-alpine"
CONNECT_TIMEOUT_S = 5.0


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a fresh, migrated database, dropped when the session ends."""
    container: Any = None
    admin_url = os.environ.get(POSTGRES_URL_ENV)
    if not admin_url and await asyncio.to_thread(_docker_answers):
        container = await asyncio.to_thread(_start_container)
        admin_url = str(container.get_connection_url())
    try:
        admin_url = admin_url or DEFAULT_POSTGRES_URL
        await _require_server(admin_url)
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


def _start_container() -> Any:
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer(CONTAINER_IMAGE, driver="asyncpg")
    container.start()
    return container


def _docker_answers() -> bool:
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


async def _require_server(admin_url: str) -> None:
    """Skip (or fail under CI=true) when no PostgreSQL server answers at `admin_url`."""
    try:
        await asyncio.wait_for(_execute_autocommit(admin_url, "SELECT 1"), CONNECT_TIMEOUT_S)
    except Exception as exc:
        shown = make_url(admin_url).render_as_string(hide_password=True)
        message = (
            f"no PostgreSQL server answers at {shown} ({exc!r}); "
            f"set {POSTGRES_URL_ENV} or start one (or a Docker engine)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


async def _execute_autocommit(url: str, statement: str) -> None:
    # CREATE/DROP DATABASE refuse to run inside a transaction block.
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()
