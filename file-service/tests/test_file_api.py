"""The internal HTTP API in process: uploads, downloads, refusals, generated files."""

import asyncio
import errno
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest

from file_service.app import create_app
from file_service.blobs_local import LocalBlobStore
from file_service.blobs_memory import InMemoryBlobStore
from file_service.bootstrap import FileServiceDeps
from file_service.replay import replay
from file_service.testing.harness import memory_deps, serving

TEST_LIMIT = 4 << 20  # as in conftest.py

BOUNDARY = "test-boundary-7MA4YWxkTrZu0gW"


def multipart(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    """A multipart/form-data body of (field, filename, data) parts."""
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data
        body += b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


HEADERS = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


async def in_chunks(data: bytes, size: int = 65_536) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def upload(client: httpx.AsyncClient, name: str, data: bytes) -> httpx.Response:
    return await client.post("/files", files={"file": (name, data, "application/octet-stream")})


def nothing_stored(deps: FileServiceDeps) -> bool:
    if isinstance(deps.blobs, InMemoryBlobStore):
        return not deps.blobs.blobs
    assert isinstance(deps.blobs, LocalBlobStore)
    root = Path(deps.blobs.root)
    return not any(p.is_file() for p in root.rglob("*"))


async def test_bytes_round_trip_with_their_sha256(client: httpx.AsyncClient) -> None:
    data = os.urandom(3 << 20).replace(b"\0", b"0") + b"\nend\n"
    created = await upload(client, "../../secret/big data.txt", data)
    assert created.status_code == 201, created.text
    meta = created.json()
    assert meta["filename"] == "big data.txt"
    assert meta["size"] == len(data)
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["media_type"] == "text/plain"
    assert meta["origin"] == {"kind": "uploaded"}
    assert created.headers["location"] == f"/files/{meta['file_id']}/meta"
    downloaded = await client.get(f"/files/{meta['file_id']}")
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).hexdigest() == meta["sha256"]
    assert downloaded.headers["content-type"] == "application/octet-stream"
    assert downloaded.headers["content-length"] == str(len(data))
    assert downloaded.headers["accept-ranges"] == "bytes"
    assert downloaded.headers["etag"] == f'"{meta["sha256"]}"'
    assert downloaded.headers["content-disposition"] == 'attachment; filename="big data.txt"'
    assert (await client.get(f"/files/{meta['file_id']}/meta")).json() == meta


async def test_ranges_answer_206_or_416(client: httpx.AsyncClient) -> None:
    data = bytes(range(1, 256)) * 100
    file_id = (await upload(client, "r.txt", data)).json()["file_id"]
    part = await client.get(f"/files/{file_id}", headers={"range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert part.headers["content-length"] == "10"
    suffix = await client.get(f"/files/{file_id}", headers={"range": "bytes=-7"})
    assert (suffix.status_code, suffix.content) == (206, data[-7:])
    assert suffix.headers["content-range"] == f"bytes {len(data) - 7}-{len(data) - 1}/{len(data)}"
    tail = await client.get(f"/files/{file_id}", headers={"range": f"bytes={len(data) - 3}-"})
    assert (tail.status_code, tail.content) == (206, data[-3:])
    beyond = await client.get(f"/files/{file_id}", headers={"range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"
    assert "not satisfiable" in beyond.json()["detail"]
    stale = await client.get(
        f"/files/{file_id}", headers={"range": "bytes=0-0", "if-range": '"stale"'}
    )
    assert (stale.status_code, stale.content) == (200, data)


async def test_a_matching_etag_answers_304(client: httpx.AsyncClient) -> None:
    file_id = (await upload(client, "e.txt", b"cache me")).json()["file_id"]
    first = await client.get(f"/files/{file_id}")
    again = await client.get(f"/files/{file_id}", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    other = await client.get(f"/files/{file_id}", headers={"if-none-match": '"nope"'})
    assert other.status_code == 200


async def test_head_gives_the_headers_without_the_body(client: httpx.AsyncClient) -> None:
    file_id = (await upload(client, "h.txt", b"headers only")).json()["file_id"]
    head = await client.head(f"/files/{file_id}")
    assert head.status_code == 200
    assert head.headers["content-length"] == "12"
    assert head.content == b""


async def test_non_ascii_names_download_with_filename_star(client: httpx.AsyncClient) -> None:
    file_id = (await upload(client, "résumé.txt", b"x")).json()["file_id"]
    response = await client.get(f"/files/{file_id}")
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    )


@pytest.mark.parametrize(
    ("name", "data", "status", "detail"),
    [
        ("tool.exe", b"MZ", 415, "accepted types: .csv, .xlsx, .xls, .json, .txt, .pdf"),
        ("noext", b"abc", 415, "accepted types"),
        ("broken.json", b'{"a": 1,', 400, "broken.json is not valid JSON"),
        ("fake.pdf", b"<html>not a pdf</html>", 400, "no %PDF- header"),
        ("fake.xlsx", b"a,b\n1,2\n", 400, "not a zip archive"),
        ("empty.csv", b"", 400, "empty"),
    ],
)
async def test_refused_uploads_leave_nothing(
    client: httpx.AsyncClient,
    deps: FileServiceDeps,
    name: str,
    data: bytes,
    status: int,
    detail: str,
) -> None:
    response = await upload(client, name, data)
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert nothing_stored(deps)
    assert await deps.store.head_position() == 0


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (multipart([("note", None, b"hi")]), 422, "no `file` field"),
        (multipart([("file", None, b"plain field")]), 422, "must be a file"),
        (
            multipart([("file", "a.txt", b"one"), ("file", "b.txt", b"two")]),
            400,
            "Only one file",
        ),
        (multipart([("file", "a.txt", b"abc")])[:-10], 400, "ends before the closing boundary"),
        (b"--wrong\r\n\r\nxyz", 400, "Malformed multipart"),
    ],
)
async def test_malformed_bodies_are_refused(
    client: httpx.AsyncClient, deps: FileServiceDeps, body: bytes, status: int, detail: str
) -> None:
    response = await client.post("/files", content=body, headers=HEADERS)
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert nothing_stored(deps)


async def test_a_body_that_is_not_multipart_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/files", json={"file": "data"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["detail"]


async def test_other_fields_beside_the_file_are_ignored(client: httpx.AsyncClient) -> None:
    body = multipart([("purpose", None, b"assistants"), ("file", "k.txt", b"kept")])
    response = await client.post("/files", content=body, headers=HEADERS)
    assert response.status_code == 201
    assert response.json()["size"] == 4


async def test_an_upload_over_the_limit_is_refused_mid_stream(
    client: httpx.AsyncClient, deps: FileServiceDeps
) -> None:
    body = multipart([("file", "huge.csv", b"a,b\n" + b"1,2\n" * (TEST_LIMIT // 4))])
    # Streamed without a length, so the refusal can only come from counting the bytes.
    response = await client.post("/files", content=in_chunks(body), headers=HEADERS)
    assert response.status_code == 413
    assert "limit is 4 MiB" in response.json()["detail"]
    assert nothing_stored(deps)
    assert await deps.store.head_position() == 0


async def test_a_declared_length_over_the_limit_is_refused_at_once(
    client: httpx.AsyncClient,
) -> None:
    body = multipart([("file", "huge.txt", b"x" * (TEST_LIMIT + (2 << 20)))])
    response = await client.post("/files", content=body, headers=HEADERS)
    assert response.status_code == 413


async def test_an_upload_of_exactly_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    response = await upload(client, "full.txt", b"y" * TEST_LIMIT)
    assert response.status_code == 201
    assert response.json()["size"] == TEST_LIMIT


async def test_concurrent_uploads_with_one_name_are_both_kept(client: httpx.AsyncClient) -> None:
    first, second, same = await asyncio.gather(
        upload(client, "report.csv", b"a\n1\n"),
        upload(client, "report.csv", b"a\n2\n"),
        upload(client, "report.csv", b"a\n1\n"),
    )
    ids = {r.json()["file_id"] for r in (first, second, same)}
    assert len(ids) == 3
    assert first.json()["sha256"] == same.json()["sha256"] != second.json()["sha256"]
    for response, data in ((first, b"a\n1\n"), (second, b"a\n2\n"), (same, b"a\n1\n")):
        assert (await client.get(f"/files/{response.json()['file_id']}")).content == data


async def test_unknown_and_malformed_file_ids(client: httpx.AsyncClient) -> None:
    assert (await client.get("/files/file-doesnotexist/meta")).status_code == 404
    assert (await client.get("/files/file-doesnotexist")).status_code == 404
    for bad in ("nope", "file-", "file-a_b", "file-" + "x" * 65):
        response = await client.get(f"/files/{bad}/meta")
        assert response.status_code == 400, bad
        assert "Malformed file id" in response.json()["detail"]
    assert (await client.get("/files/..%2F..%2Fetc%2Fpasswd")).status_code in (400, 404)


async def test_errors_are_plain_string_details(client: httpx.AsyncClient) -> None:
    missing_query = await client.get("/files")
    assert missing_query.status_code == 422
    assert isinstance(missing_query.json()["detail"], str)
    unknown_route = await client.get("/nowhere")
    assert unknown_route.status_code == 404
    assert isinstance(unknown_route.json()["detail"], str)
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def produce(
    client: httpx.AsyncClient, name: str, data: bytes, thread_id: str = "thread_t1"
) -> httpx.Response:
    params = {"filename": name, "thread_id": thread_id, "run_id": "run_r1"}
    return await client.post("/files/produced", params=params, content=in_chunks(data, 1000))


async def test_generated_files_are_registered_and_listed_by_thread(
    client: httpx.AsyncClient,
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)
    chart = await produce(client, "../chart.png", png)
    assert chart.status_code == 201, chart.text
    meta = chart.json()
    assert meta["filename"] == "chart.png"
    assert meta["media_type"] == "image/png"
    assert meta["origin"] == {"kind": "generated", "run_id": "run_r1", "thread_id": "thread_t1"}
    table = await produce(client, "out.parquet", b"PAR1")
    await produce(client, "elsewhere.txt", b"x", thread_id="thread_other")
    await upload(client, "uploaded.txt", b"not generated")
    listed = (await client.get("/files", params={"thread_id": "thread_t1"})).json()["files"]
    assert [f["file_id"] for f in listed] == [meta["file_id"], table.json()["file_id"]]
    assert listed[0] == meta
    download = await client.get(f"/files/{meta['file_id']}")
    assert download.content == png
    expected = f'attachment; filename="output_{meta["file_id"]}.png"'
    assert download.headers["content-disposition"] == expected
    assert (await client.get("/files", params={"thread_id": "thread_none"})).json() == {"files": []}


async def test_generated_files_may_be_empty_but_not_over_the_limit(
    client: httpx.AsyncClient,
) -> None:
    empty = await produce(client, "empty.log", b"")
    assert (empty.status_code, empty.json()["size"]) == (201, 0)
    assert (await produce(client, "big.bin", b"z" * (TEST_LIMIT + 1))).status_code == 413


async def test_generated_files_need_well_formed_ids(client: httpx.AsyncClient) -> None:
    response = await produce(client, "a.txt", b"x", thread_id="not-a-thread")
    assert response.status_code == 400
    bad_run = await client.post(
        "/files/produced",
        params={"filename": "a.txt", "thread_id": "thread_a", "run_id": "../x"},
        content=b"x",
    )
    assert bad_run.status_code == 400
    assert (await client.get("/files", params={"thread_id": "x"})).status_code == 400


async def test_the_file_list_matches_a_replay_of_the_events(
    client: httpx.AsyncClient, deps: FileServiceDeps
) -> None:
    await upload(client, "a.csv", b"x,y\n1,2\n")
    await produce(client, "b.png", b"\x89PNG")
    report = await replay(deps.store, deps.view, apply=False)
    assert report.matches
    assert (report.events, report.rows) == (2, {"files": 2})
    await deps.view.replace_all([])
    broken = await replay(deps.store, deps.view, apply=True)
    assert len(broken.differences) == 2
    assert broken.applied
    assert (await replay(deps.store, deps.view, apply=False)).matches


async def test_a_file_the_view_missed_is_found_from_its_stream_and_at_start(
    deps: FileServiceDeps,
) -> None:
    async with serving(deps) as client:
        uploaded = (await upload(client, "a.txt", b"a")).json()
        generated = (await produce(client, "b.txt", b"b")).json()
    await deps.view.replace_all([])
    async with serving(deps) as client:  # start-up catch-up rebuilds the list
        listed = (await client.get("/files", params={"thread_id": "thread_t1"})).json()
        assert listed["files"] == [generated]
    await deps.view.replace_all([])
    async with serving(deps) as client:
        meta = await client.get(f"/files/{uploaded['file_id']}/meta")
        assert meta.json() == uploaded


async def test_a_client_that_disconnects_mid_upload_leaves_nothing(
    deps: FileServiceDeps,
) -> None:
    app = create_app(lambda: nullcontext(deps))
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nabc'
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": part, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/files",
        "raw_path": b"/files",
        "query_string": b"",
        "headers": [(b"content-type", b"multipart/form-data; boundary=b")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("file-service", 80),
        "client": ("client", 1),
        "root_path": "",
    }
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert b"interrupted" in sent[1]["body"]
    assert nothing_stored(deps)


async def test_a_full_disk_answers_507_and_leaves_nothing(tmp_path: Path) -> None:
    class FullDisk(LocalBlobStore):
        async def begin(self) -> Any:
            writer = await super().begin()

            def no_space(data: bytes | bytearray) -> None:
                raise OSError(errno.ENOSPC, "No space left on device")

            writer._write_sync = no_space  # type: ignore[method-assign]
            return writer

    deps = memory_deps(TEST_LIMIT)
    deps = FileServiceDeps(
        store=deps.store, blobs=FullDisk(tmp_path), view=deps.view, max_upload_bytes=TEST_LIMIT
    )
    async with serving(deps) as client:
        response = await upload(client, "a.txt", b"x" * 100)
    assert response.status_code == 507
    assert "storage" in response.json()["detail"]
    assert nothing_stored(deps)
