"""Alembic environment of file-service's tables (its own version table)."""

from eventkit.migrate import run_env
from file_service.migrate import FILE_SERVICE_VERSION_TABLE
from file_service.tables import metadata

run_env(default_version_table=FILE_SERVICE_VERSION_TABLE, target_metadata=metadata)
