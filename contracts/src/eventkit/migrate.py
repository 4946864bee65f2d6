"""Run alembic migrations from code, without an alembic.ini, on PostgreSQL or SQLite.

Every package keeps its own alembic directory and version table and calls `upgrade`; its
env.py is two lines: `from eventkit.migrate import run_env` and
`run_env(default_version_table="<package>_alembic_version")`.

`python -m eventkit.migrate` upgrades eventkit's own schema at $CIE_DATABASE_URL.
"""

import asyncio
import logging
import os
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData

from eventkit.sql import create_engine, write_engine

EVENT_STORE_VERSION_TABLE = "eventkit_alembic_version"
"""The table where alembic records the revision of eventkit's schema."""

EVENT_STORE_MIGRATIONS = str(Path(__file__).with_name("migrations"))
"""eventkit's alembic script directory."""

DATABASE_URL_ENV = "CIE_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/cie.db"

# Serialises upgrades by services starting at once (they share the cluster): b"migrate!".
_POSTGRES_MIGRATION_LOCK = 7883946363647714593


async def upgrade(url: str, script_location: str, version_table: str) -> None:
    """Upgrade the database at `url` to the head of the alembic scripts in `script_location`.

    Idempotent: a database already at head is left as it is.
    """
    engine = create_engine(url)
    try:
        # On SQLite the write engine begins with BEGIN IMMEDIATE: two processes migrating
        # the same file queue on the write lock instead of failing half-way.
        async with write_engine(engine).connect() as connection:
            await connection.run_sync(_upgrade_on, script_location, version_table)
            await connection.commit()
    finally:
        await engine.dispose()


async def upgrade_event_store(url: str) -> None:
    """Create or upgrade eventkit's tables (events, checkpoints) at `url`."""
    await upgrade(url, EVENT_STORE_MIGRATIONS, EVENT_STORE_VERSION_TABLE)


def run_env(*, default_version_table: str, target_metadata: MetaData | None = None) -> None:
    """The body of an env.py: migrate the connection `upgrade` passes in, or the configured URL.

    Called by the alembic command line instead, it reads `sqlalchemy.url` or $CIE_DATABASE_URL.
    """
    config = context.config
    version_table: str = config.attributes.get("version_table", default_version_table)
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection, version_table, target_metadata)
        return
    url = config.get_main_option("sqlalchemy.url") or database_url()
    if context.is_offline_mode():
        context.configure(url=url, version_table=version_table, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_migrate_url(url, version_table, target_metadata))


def database_url() -> str:
    """The database URL of this deployment: $CIE_DATABASE_URL or a local SQLite file."""
    return os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL


def _upgrade_on(connection: Connection, script_location: str, version_table: str) -> None:
    config = Config()
    # Config values are interpolated: a literal % in a path must be doubled.
    config.set_main_option("script_location", script_location.replace("%", "%%"))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = version_table
    command.upgrade(config, "head")


async def _migrate_url(url: str, version_table: str, target_metadata: MetaData | None) -> None:
    engine = create_engine(url)
    try:
        async with write_engine(engine).connect() as connection:
            await connection.run_sync(_migrate, version_table, target_metadata)
            await connection.commit()
    finally:
        await engine.dispose()


def _migrate(connection: Connection, version_table: str, target_metadata: MetaData | None) -> None:
    # The caller owns the transaction (alembic sees it as external and leaves it alone), so
    # the lock below and every migration commit or roll back together.
    if not connection.in_transaction():
        connection.begin()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_POSTGRES_MIGRATION_LOCK})")
    context.configure(
        connection=connection, target_metadata=target_metadata, version_table=version_table
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Upgrade eventkit's schema at $CIE_DATABASE_URL (default: ./data/cie.db)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(upgrade_event_store(database_url()))


__all__ = [
    "EVENT_STORE_MIGRATIONS",
    "EVENT_STORE_VERSION_TABLE",
    "database_url",
    "run_env",
    "upgrade",
    "upgrade_event_store",
]

if __name__ == "__main__":
    main()
