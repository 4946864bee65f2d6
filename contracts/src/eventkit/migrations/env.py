"""Alembic environment of eventkit's own schema (events, append function, checkpoints)."""

from eventkit.migrate import EVENT_STORE_VERSION_TABLE, run_env

run_env(default_version_table=EVENT_STORE_VERSION_TABLE)
