"""file-service in process for tests: deps in memory or on SQLite + disk, and an HTTP client.

Usable from other services' tests too (the gateway's proxy tests can talk to a real
file-service app this way). Needs httpx, a dev dependency.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path

import httpx

from eventkit.store_memory import InMemoryEventStore
from file_service.app import create_app
from file_service.blobs_memory import InMemoryBlobStore
from file_service.bootstrap import FileServiceDeps
from file_service.settings import DEFAULT_STORAGE_LIMIT_BYTES
from file_service.view_memory import InMemoryFileView

BASE_URL = "http://file-service"


@asynccontextmanager
async def serving(deps: FileServiceDeps) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to a started app (lifespan run) over `deps`."""
    app = create_app(lambda: nullcontext(deps))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client,
    ):
        yield client


def memory_deps(
    max_upload_bytes: int, storage_limit_bytes: int = DEFAULT_STORAGE_LIMIT_BYTES
) -> FileServiceDeps:
    """Deps entirely in memory."""
    return FileServiceDeps(
        store=InMemoryEventStore(),
        blobs=InMemoryBlobStore(),
        view=InMemoryFileView(),
        max_upload_bytes=max_upload_bytes,
        storage_limit_bytes=storage_limit_bytes,
    )


@asynccontextmanager
async def sqlite_deps(
    directory: Path, max_upload_bytes: int, storage_limit_bytes: int = DEFAULT_STORAGE_LIMIT_BYTES
) -> AsyncIterator[FileServiceDeps]:
    """Deps over a migrated SQLite file and a LocalBlobStore, both under `directory`."""
    from eventkit.sql import create_engine
    from eventkit.store_sql import sql_event_store
    from file_service.blobs_local import LocalBlobStore
    from file_service.migrate import upgrade_all
    from file_service.view_sql import SqlFileView

    url = f"sqlite+aiosqlite:///{directory / 'files.db'}"
    await upgrade_all(url)
    engine = create_engine(url)
    try:
        yield FileServiceDeps(
            store=sql_event_store(engine),
            blobs=LocalBlobStore(directory / "blobs"),
            view=SqlFileView(engine),
            max_upload_bytes=max_upload_bytes,
            storage_limit_bytes=storage_limit_bytes,
        )
    finally:
        await engine.dispose()
