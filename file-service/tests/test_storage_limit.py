"""The storage limit: stored files, uploaded or generated, count against a total (issue 11).

Before it, two 512 MiB uploads were both kept whatever the disk held. Now an upload that would
take the total past CIE_FILE_STORAGE_LIMIT_MB is refused with 413 and nothing of it is kept;
the total is the file list's sum of sizes (so it survives restarts) plus uploads in flight.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from eventkit.sql import create_engine
from eventkit.store_sql import sql_event_store
from file_service.blobs_local import LocalBlobStore
from file_service.blobs_memory import InMemoryBlobStore
from file_service.bootstrap import FileServiceDeps
from file_service.errors import StorageLimitReached
from file_service.migrate import upgrade_all
from file_service.settings import DEFAULT_STORAGE_LIMIT_MB, FileServiceSettings
from file_service.testing.harness import memory_deps, serving, sqlite_deps
from file_service.view import FILE_CATEGORY
from file_service.view_sql import SqlFileView

MIB = 1 << 20
FILE_LIMIT = 4 * MIB  # the per-file limit, as in conftest.py
STORAGE_LIMIT = 5 * MIB
BOUNDARY = "storage-limit-boundary-8c1f"
HEADERS = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


@pytest.fixture(params=["memory", "sqlite"])
async def limited(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FileServiceDeps]:
    """Deps with a 5 MiB storage limit, in memory or on SQLite and local disk."""
    if request.param == "memory":
        yield memory_deps(FILE_LIMIT, STORAGE_LIMIT)
    else:
        async with sqlite_deps(tmp_path, FILE_LIMIT, STORAGE_LIMIT) as opened:
            yield opened


@pytest.fixture
async def client(limited: FileServiceDeps) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(limited) as opened:
        yield opened


def text(size: int, fill: bytes = b"x") -> bytes:
    """`size` bytes of a valid .txt file."""
    return (fill * size)[:size]


async def upload(client: httpx.AsyncClient, name: str, data: bytes) -> httpx.Response:
    return await client.post("/files", files={"file": (name, data, "text/plain")})


async def produce(client: httpx.AsyncClient, name: str, data: bytes) -> httpx.Response:
    params = {"filename": name, "thread_id": "thread_q1", "run_id": "run_q1"}
    return await client.post("/files/produced", params=params, content=data)


def blobs_kept(deps: FileServiceDeps) -> int:
    """Committed blobs; fails if a partial one was left in the local store's tmp/."""
    if isinstance(deps.blobs, InMemoryBlobStore):
        return len(deps.blobs.blobs)
    assert isinstance(deps.blobs, LocalBlobStore)
    assert not any(deps.blobs.temp_dir.iterdir()), "a partial blob was left behind"
    return sum(1 for path in (deps.blobs.root / "objects").rglob("*") if path.is_file())


def assert_storage_refusal(response: httpx.Response, in_use: str) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {
        "detail": (
            f"Storage limit reached: at most 5 MiB of files may be stored and {in_use} MiB are"
            " in use; delete files to free room"
        )
    }


# ---------------------------------------------------------------------------- reproduction


async def test_an_upload_past_the_storage_limit_is_refused_and_leaves_nothing(
    client: httpx.AsyncClient, limited: FileServiceDeps
) -> None:
    first_data = text(3 * MIB, b"a")
    first = await upload(client, "first.txt", first_data)
    assert first.status_code == 201, first.text

    # Within the per-file limit (4 MiB) but 3 + 3 MiB is past the 5 MiB storage limit.
    second = await upload(client, "second.txt", text(3 * MIB, b"b"))
    assert_storage_refusal(second, "3")
    assert blobs_kept(limited) == 1
    assert await limited.store.head_position() == 1  # no event for the refused file
    assert await limited.view.stored_bytes() == 3 * MIB

    downloaded = await client.get(f"/files/{first.json()['file_id']}")
    assert (downloaded.status_code, downloaded.content) == (200, first_data)

    # What is left fits, to the byte; then not one byte more.
    rest = await upload(client, "rest.txt", text(2 * MIB, b"c"))
    assert rest.status_code == 201, rest.text
    assert_storage_refusal(await upload(client, "one.txt", b"1"), "5")
    assert await limited.view.stored_bytes() == STORAGE_LIMIT


async def test_generated_files_count_against_the_same_limit(
    client: httpx.AsyncClient, limited: FileServiceDeps
) -> None:
    assert (await upload(client, "uploaded.txt", text(3 * MIB))).status_code == 201
    refused = await produce(client, "big.bin", text(3 * MIB, b"\x01"))
    assert_storage_refusal(refused, "3")
    assert blobs_kept(limited) == 1
    listed = await client.get("/files", params={"thread_id": "thread_q1"})
    assert listed.json() == {"files": []}

    kept = await produce(client, "fits.bin", text(2 * MIB, b"\x02"))
    assert kept.status_code == 201, kept.text
    assert_storage_refusal(await upload(client, "more.txt", b"more"), "5")
    empty = await produce(client, "empty.log", b"")  # no bytes: never past the limit
    assert empty.status_code == 201, empty.text


async def test_the_per_file_limit_still_comes_first(client: httpx.AsyncClient) -> None:
    response = await upload(client, "huge.txt", text(FILE_LIMIT + 1))
    assert response.status_code == 413
    assert "File too large: the limit is 4 MiB" in response.json()["detail"]


async def test_a_file_taken_out_of_the_list_frees_its_room(
    client: httpx.AsyncClient, limited: FileServiceDeps
) -> None:
    """file-service has no delete yet (no `file.deleted` event); a delete will take the file's
    row out of the list, and the limit counts the list, so its bytes are free again at once."""
    first = (await upload(client, "first.txt", text(3 * MIB, b"a"))).json()
    second = (await upload(client, "second.txt", text(2 * MIB, b"b"))).json()
    assert_storage_refusal(await upload(client, "third.txt", text(2 * MIB, b"c")), "5")

    rows = await limited.view.dump()
    await limited.view.replace_all([row for row in rows if row.file_id != first["file_id"]])

    third = await upload(client, "third.txt", text(2 * MIB, b"c"))
    assert third.status_code == 201, third.text
    assert await limited.view.stored_bytes() == 4 * MIB
    for kept in (second, third.json()):
        assert (await client.get(f"/files/{kept['file_id']}")).status_code == 200


async def test_no_limit_when_it_is_zero(tmp_path: Path) -> None:
    async with (
        sqlite_deps(tmp_path, FILE_LIMIT, storage_limit_bytes=0) as deps,
        serving(deps) as client,
    ):
        for name in ("a.txt", "b.txt", "c.txt"):
            assert (await upload(client, name, text(3 * MIB, name[:1].encode()))).status_code == 201
        assert await deps.view.stored_bytes() == 9 * MIB


# ------------------------------------------------------------------------------- the race


async def gated(
    body: bytes, halfway: asyncio.Barrier, chunk: int = 64 * 1024
) -> AsyncIterator[bytes]:
    """`body` in chunks, waiting at the half for every other racer to be there too: each
    upload has begun (read the usage) and holds half its bytes before any can finish."""
    half = len(body) // 2
    for offset in range(0, len(body), chunk):
        if offset <= half < offset + chunk:
            await halfway.wait()
        yield body[offset : offset + chunk]


def multipart(name: str, data: bytes) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


async def test_two_uploads_racing_for_the_last_room_do_not_both_pass(
    client: httpx.AsyncClient, limited: FileServiceDeps
) -> None:
    # Each fits alone (3 MiB of 5); without reservations both would see 0 in use and pass.
    halfway = asyncio.Barrier(2)
    bodies = [multipart(f"{fill}.txt", text(3 * MIB, fill.encode())) for fill in "ab"]
    async with asyncio.timeout(60):  # a racer stuck at the barrier fails, never hangs
        responses = await asyncio.gather(
            *(
                client.post("/files", content=gated(body, halfway), headers=HEADERS)
                for body in bodies
            )
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 413], [response.text for response in responses]
    refused = next(response for response in responses if response.status_code == 413)
    assert "Storage limit reached" in refused.json()["detail"]
    assert blobs_kept(limited) == 1
    assert await limited.store.head_position() == 1
    assert await limited.view.stored_bytes() == 3 * MIB


async def test_many_racing_uploads_never_overshoot_the_limit(
    client: httpx.AsyncClient, limited: FileServiceDeps
) -> None:
    racers = 5
    halfway = asyncio.Barrier(racers)
    size = 3 * MIB // 2  # five of them make 7.5 MiB; at most three fit in 5 MiB
    bodies = [multipart(f"{i}.txt", text(size, str(i).encode())) for i in range(racers)]
    async with asyncio.timeout(60):
        responses = await asyncio.gather(
            *(
                client.post("/files", content=gated(body, halfway), headers=HEADERS)
                for body in bodies
            ),
            produce(client, "late.bin", text(MIB, b"\x03")),  # and a generated file among them
        )
    kept = [response.json() for response in responses if response.status_code == 201]
    refused = [response for response in responses if response.status_code != 201]
    assert kept, "the limit leaves room for some of them"
    assert all(response.status_code == 413 for response in refused), [r.text for r in refused]
    total = sum(meta["size"] for meta in kept)
    assert total <= STORAGE_LIMIT
    assert await limited.view.stored_bytes() == total
    assert await limited.store.head_position() == len(kept)
    assert blobs_kept(limited) == len(kept)
    # What was given back by the refused uploads is room again.
    room = STORAGE_LIMIT - total
    assert (await upload(client, "room.txt", text(room, b"r"))).status_code == 201
    assert await limited.view.stored_bytes() == STORAGE_LIMIT


# ---------------------------------------------------------------------------- restarts


async def test_the_usage_survives_a_restart(tmp_path: Path) -> None:
    async with (
        sqlite_deps(tmp_path, FILE_LIMIT, STORAGE_LIMIT) as deps,
        serving(deps) as client,
    ):
        assert (await upload(client, "a.txt", text(3 * MIB))).status_code == 201

    async with (
        sqlite_deps(tmp_path, FILE_LIMIT, STORAGE_LIMIT) as deps,
        serving(deps) as client,
    ):
        assert_storage_refusal(await upload(client, "b.txt", text(3 * MIB, b"b")), "3")
        assert (await upload(client, "c.txt", text(2 * MIB, b"c"))).status_code == 201
        await deps.view.replace_all([])  # a list that lost its rows ...

    async with (
        sqlite_deps(tmp_path, FILE_LIMIT, STORAGE_LIMIT) as deps,
        serving(deps) as client,  # ... is caught up from the events at start, sizes included
    ):
        assert await deps.view.stored_bytes() == 5 * MIB
        assert_storage_refusal(await upload(client, "d.txt", b"d"), "5")


@asynccontextmanager
async def postgres_deps(
    url: str, blob_dir: Path, room: int | None
) -> AsyncIterator[FileServiceDeps]:
    """Deps on PostgreSQL; other tests share the database, so the limit is `room` bytes above
    what is stored when they open (None: no limit)."""
    engine = create_engine(url)
    try:
        view = SqlFileView(engine)
        yield FileServiceDeps(
            store=sql_event_store(engine),
            blobs=LocalBlobStore(blob_dir),
            view=view,
            max_upload_bytes=FILE_LIMIT,
            storage_limit_bytes=0 if room is None else await view.stored_bytes() + room,
        )
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_the_usage_survives_a_restart_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    await upgrade_all(postgres_url)
    async with postgres_deps(postgres_url, tmp_path, STORAGE_LIMIT) as deps:
        limit = deps.storage_limit_bytes
        async with serving(deps) as client:
            assert (await upload(client, "a.txt", text(3 * MIB))).status_code == 201

    async with postgres_deps(postgres_url, tmp_path, None) as opened:
        deps = replace(opened, storage_limit_bytes=limit)  # the same limit, a new service
        async with serving(deps) as client:
            refused = await upload(client, "b.txt", text(3 * MIB, b"b"))
            assert refused.status_code == 413
            assert "Storage limit reached" in refused.json()["detail"]
            assert (await upload(client, "c.txt", text(2 * MIB, b"c"))).status_code == 201
            assert await deps.view.stored_bytes() == limit


# ----------------------------------------------------- the view's total, on every adapter


async def check_stored_bytes(deps: FileServiceDeps, client: httpx.AsyncClient) -> None:
    """What every FileView's `stored_bytes` must do: the sum of the listed files' sizes,
    unchanged by applying the same events again, following `replace_all`."""
    base = await deps.view.stored_bytes()
    sizes = [1, 1000, 70_000]
    for i, size in enumerate(sizes):
        assert (await upload(client, f"{i}.txt", text(size, str(i).encode()))).status_code == 201
    assert (await produce(client, "empty.bin", b"")).status_code == 201
    assert await deps.view.stored_bytes() == base + sum(sizes)
    events = await deps.store.read_all(after_position=0, limit=10_000, category=FILE_CATEGORY)
    await deps.view.apply(events)
    assert await deps.view.stored_bytes() == base + sum(sizes)
    rows = await deps.view.dump()
    await deps.view.replace_all([row for row in rows if row.size != 70_000])
    assert await deps.view.stored_bytes() == base + 1001
    await deps.view.replace_all([])
    assert await deps.view.stored_bytes() == 0
    await deps.view.replace_all(rows)
    assert await deps.view.stored_bytes() == base + sum(sizes)


async def test_stored_bytes_of_the_memory_and_sqlite_views(
    client: httpx.AsyncClient, limited: FileServiceDeps
) -> None:
    assert await limited.view.stored_bytes() == 0
    await check_stored_bytes(limited, client)


@pytest.mark.postgres
async def test_stored_bytes_of_the_postgres_view(postgres_url: str, tmp_path: Path) -> None:
    await upgrade_all(postgres_url)
    async with postgres_deps(postgres_url, tmp_path, None) as deps, serving(deps) as client:
        await check_stored_bytes(deps, client)


# ---------------------------------------------------------------------------- settings


def test_the_setting_defaults_to_10_gib_and_reads_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CIE_FILE_STORAGE_LIMIT_MB", raising=False)
    default = FileServiceSettings()
    assert (default.storage_limit_mb, DEFAULT_STORAGE_LIMIT_MB) == (10240, 10240)
    assert default.storage_limit_bytes == 10 << 30
    monkeypatch.setenv("CIE_FILE_STORAGE_LIMIT_MB", "0")
    assert FileServiceSettings().storage_limit_bytes == 0
    monkeypatch.setenv("CIE_FILE_STORAGE_LIMIT_MB", "-1")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        FileServiceSettings()


def test_the_refusal_says_the_limit_and_the_use_in_mib() -> None:
    assert StorageLimitReached(10240 * MIB, 10239 * MIB + MIB * 96 // 100).detail == (
        "Storage limit reached: at most 10240 MiB of files may be stored and 10239.9 MiB are in"
        " use; delete files to free room"
    )
    assert StorageLimitReached(5 * MIB, 0).status_code == 413
