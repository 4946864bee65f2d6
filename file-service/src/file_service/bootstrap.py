"""The composition root: the adapters file-service runs on, real or in memory."""

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eventkit.ops.checks import writable_dir_check
from eventkit.ops.probes import Check
from eventkit.store import EventStore
from file_service.blobs import BlobStore
from file_service.settings import (
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_STORAGE_LIMIT_BYTES,
    FileServiceSettings,
)
from file_service.view import FileView


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class FileServiceDeps:
    """Everything file-service needs from outside."""

    store: EventStore
    blobs: BlobStore
    view: FileView
    clock: Callable[[], datetime] = utc_now
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    storage_limit_bytes: int = DEFAULT_STORAGE_LIMIT_BYTES  # total of stored files; 0: none
    checks: Mapping[str, Check] = field(default_factory=dict)  # readiness, beside the store


@asynccontextmanager
async def real_deps(settings: FileServiceSettings) -> AsyncIterator[FileServiceDeps]:
    """SQL store and file list (PostgreSQL or SQLite) and blobs in `settings.blob_dir`.

    The database must be migrated first (`python -m file_service.migrate`).
    """
    from eventkit.sql import create_engine
    from eventkit.store_sql import sql_event_store
    from file_service.blobs_local import LocalBlobStore
    from file_service.view_sql import SqlFileView

    blobs = LocalBlobStore(settings.blob_dir)
    await asyncio.to_thread(blobs.sweep_temp)
    engine = create_engine(settings.database_url)
    try:
        yield FileServiceDeps(
            store=sql_event_store(engine),
            blobs=blobs,
            view=SqlFileView(engine),
            max_upload_bytes=settings.max_upload_bytes,
            storage_limit_bytes=settings.storage_limit_bytes,
            checks={"blobs": writable_dir_check(settings.blob_dir)},
        )
    finally:
        await engine.dispose()


@asynccontextmanager
async def in_memory_deps(
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    storage_limit_bytes: int = DEFAULT_STORAGE_LIMIT_BYTES,
    clock: Callable[[], datetime] = utc_now,
) -> AsyncIterator[FileServiceDeps]:
    """Everything in memory: nothing survives the process (tests, demos)."""
    from eventkit.store_memory import InMemoryEventStore
    from file_service.blobs_memory import InMemoryBlobStore
    from file_service.view_memory import InMemoryFileView

    yield FileServiceDeps(
        store=InMemoryEventStore(),
        blobs=InMemoryBlobStore(),
        view=InMemoryFileView(),
        clock=clock,
        max_upload_bytes=max_upload_bytes,
        storage_limit_bytes=storage_limit_bytes,
    )
