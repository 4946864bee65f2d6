"""Alembic environment of the gateway's read-model tables (its own version table)."""

from eventkit.migrate import run_env
from gateway.migrate import GATEWAY_VERSION_TABLE
from gateway.projections.tables import metadata

run_env(default_version_table=GATEWAY_VERSION_TABLE, target_metadata=metadata)
