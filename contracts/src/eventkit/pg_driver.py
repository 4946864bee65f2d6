"""Statements run straight on the asyncpg connection of an engine's pooled connection.

The hot paths of the PostgreSQL store skip SQLAlchemy's statement layer (and its implicit
BEGIN): each call here is one round trip and, outside a transaction, commits on its own.
"""

from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine


async def fetch(engine: AsyncEngine, statement: str, *arguments: Any) -> list[Any]:
    """The rows of `statement` (asyncpg `$n` parameters), run in autocommit mode."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        try:
            rows: list[Any] = await driver.fetch(statement, *arguments)
        except BaseException as exc:
            if sqlstate(exc) is None:
                # Not an error the server reported (lost connection, cancellation): the
                # connection's state is unknown, so it must not go back to the pool.
                await connection.invalidate()
            raise
    return rows


def server_error(exc: BaseException) -> Any:
    """The asyncpg exception behind `exc`, which SQLAlchemy may have wrapped."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return exc.orig.__cause__ or exc.orig
    return exc


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE the server reported, if `exc` is a server-reported error."""
    state = getattr(server_error(exc), "sqlstate", None)
    return state if isinstance(state, str) else None
