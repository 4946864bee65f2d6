"""On PostgreSQL: metadata, the thread list and the bytes survive a restart."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from eventkit.sql import create_engine
from eventkit.store_sql import sql_event_store
from file_service.blobs_local import LocalBlobStore
from file_service.bootstrap import FileServiceDeps
from file_service.migrate import upgrade_all
from file_service.replay import replay
from file_service.testing.harness import serving
from file_service.view_sql import SqlFileView

pytestmark = pytest.mark.postgres


@asynccontextmanager
async def postgres_deps(url: str, blob_dir: Path) -> AsyncIterator[FileServiceDeps]:
    engine = create_engine(url)
    try:
        yield FileServiceDeps(
            store=sql_event_store(engine),
            blobs=LocalBlobStore(blob_dir),
            view=SqlFileView(engine),
            max_upload_bytes=1 << 20,
        )
    finally:
        await engine.dispose()


async def test_files_survive_a_restart_on_the_same_database_and_blobs(
    postgres_url: str, tmp_path: Path
) -> None:
    await upgrade_all(postgres_url)
    await upgrade_all(postgres_url)  # idempotent
    thread_id = f"thread_pg{tmp_path.name.replace('_', '')[-20:]}"
    async with postgres_deps(postgres_url, tmp_path) as deps, serving(deps) as client:
        uploaded = await client.post(
            "/files", files={"file": ("sales.csv", b"region,total\nn,1\n")}
        )
        assert uploaded.status_code == 201, uploaded.text
        produced = await client.post(
            "/files/produced",
            params={"filename": "chart.png", "thread_id": thread_id, "run_id": "run_1"},
            content=b"\x89PNG\r\n\x1a\nimage",
        )
        assert produced.status_code == 201, produced.text

    async with postgres_deps(postgres_url, tmp_path) as deps, serving(deps) as client:
        file_id = uploaded.json()["file_id"]
        assert (await client.get(f"/files/{file_id}/meta")).json() == uploaded.json()
        assert (await client.get(f"/files/{file_id}")).content == b"region,total\nn,1\n"
        listed = (await client.get("/files", params={"thread_id": thread_id})).json()
        assert listed == {"files": [produced.json()]}
        assert (await replay(deps.store, deps.view, apply=False)).matches
