"""Async SQLAlchemy engines for the two supported databases: PostgreSQL (asyncpg) and SQLite.

SQLite needs care: Python's sqlite3 driver (under aiosqlite) issues its own lazy BEGIN, which
neither starts read transactions nor takes the write lock up front. We switch that off and emit
BEGIN ourselves, so a writer can ask for `BEGIN IMMEDIATE` (see `write_engine`) and take the
database's single write lock before it reads what it is about to change.
"""

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

POSTGRES_POOL_SIZE = 10
"""Connections kept open per engine."""

POSTGRES_MAX_OVERFLOW = 22
"""Extra connections under load: 32 in all, so 16-32 concurrent writers queue on the server's
append lock (handed over without a client round trip) rather than in the client pool."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a connection waits for another process's write lock before failing."""

_BEGIN_OPTION = "eventkit_sqlite_begin"


def create_engine(url: str, **engine_options: Any) -> AsyncEngine:
    """An AsyncEngine for a `postgresql+asyncpg://` or `sqlite+aiosqlite:///path` URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return _postgres_engine(parsed, engine_options)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, engine_options)
    raise ValueError(f"unsupported database URL {parsed.render_as_string()!r}")


def is_postgres(engine: AsyncEngine) -> bool:
    """Whether `engine` talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def is_sqlite(engine: AsyncEngine) -> bool:
    """Whether `engine` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def write_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine to open write transactions with.

    On SQLite its transactions start with BEGIN IMMEDIATE: they take the write lock first, so
    concurrent writers queue (commit order = start order) instead of failing when a read
    transaction tries to upgrade. On PostgreSQL it is `engine` itself.
    """
    if is_sqlite(engine):
        return engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
    return engine


def _postgres_engine(url: URL, options: dict[str, Any]) -> AsyncEngine:
    options.setdefault("pool_size", POSTGRES_POOL_SIZE)
    options.setdefault("max_overflow", POSTGRES_MAX_OVERFLOW)
    # No pool_pre_ping: it costs up to three round trips per checkout, more than an append.
    # Connections broken by a restart are invalidated when their first statement fails.
    return create_async_engine(url, **options)


def _sqlite_engine(url: URL, options: dict[str, Any]) -> AsyncEngine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **options)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the driver; `_begin_sqlite_transaction` emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL: readers never block the writer and see only committed transactions.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # FULL, not NORMAL: an append acknowledged to a caller must survive a power loss,
        # and the write rate of an embedded deployment is far below what a WAL fsync allows.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    connection.exec_driver_sql(connection.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))
