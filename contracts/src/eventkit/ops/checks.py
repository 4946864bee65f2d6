"""Readiness checks of the dependencies every service shares."""

import asyncio
import os
from pathlib import Path

from eventkit.ops.probes import Check
from eventkit.store import EventStore


def store_check(store: EventStore) -> Check:
    """The event store answers a query."""

    async def check() -> str:
        return f"head position {await store.head_position()}"

    return check


def writable_dir_check(path: Path) -> Check:
    """A directory exists and this process may write to it (blobs, sandbox workdirs)."""

    async def check() -> str:
        if not await asyncio.to_thread(os.access, path, os.W_OK | os.X_OK):
            raise OSError(f"{path} is not a writable directory")
        return "writable"

    return check
