"""Database migrations the gateway needs: the event store's and its own read models'.

`python -m gateway.migrate` (or `make migrate`) is the migration job of a deployment.
"""

import asyncio
import logging
from pathlib import Path

from eventkit.migrate import database_url, upgrade, upgrade_event_store

GATEWAY_VERSION_TABLE = "gateway_alembic_version"
GATEWAY_MIGRATIONS = str(Path(__file__).with_name("migrations"))


async def upgrade_all(url: str) -> None:
    """Bring the event store and the gateway's read models at `url` to their latest schema."""
    await upgrade_event_store(url)
    await upgrade(url, GATEWAY_MIGRATIONS, GATEWAY_VERSION_TABLE)


def main() -> None:
    """Upgrade everything at $CIE_DATABASE_URL (default: ./data/cie.db)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(upgrade_all(database_url()))


if __name__ == "__main__":
    main()
