"""Database migrations file-service needs: the event store's and its own file list table.

`python -m file_service.migrate` is the migration job of a deployment.
"""

import asyncio
import logging
from pathlib import Path

from eventkit.migrate import database_url, upgrade, upgrade_event_store

FILE_SERVICE_VERSION_TABLE = "file_service_alembic_version"
FILE_SERVICE_MIGRATIONS = str(Path(__file__).with_name("migrations"))


async def upgrade_all(url: str) -> None:
    """Bring the event store and file-service's tables at `url` to their latest schema."""
    await upgrade_event_store(url)
    await upgrade(url, FILE_SERVICE_MIGRATIONS, FILE_SERVICE_VERSION_TABLE)


def main() -> None:
    """Upgrade everything at $CIE_DATABASE_URL (default: ./data/cie.db)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(upgrade_all(database_url()))


if __name__ == "__main__":
    main()
