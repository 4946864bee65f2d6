"""Profiles shown in a file's metadata, made at upload."""

import asyncio
import contextlib
import io
import json
import os
import zipfile
from datetime import datetime
from typing import Any

import httpx

from file_service.profiles import PROFILE_CHILDREN
from file_service.testing.samples import pdf_bytes, xlsx_bytes


async def profile_of(client: httpx.AsyncClient, name: str, data: bytes) -> dict[str, Any]:
    response = await client.post("/files", files={"file": (name, data)})
    assert response.status_code == 201, response.text
    meta = (await client.get(f"/files/{response.json()['file_id']}/meta")).json()
    assert meta["profile"] == response.json()["profile"]
    profile: dict[str, Any] = meta["profile"]
    return profile


async def test_a_csv_profile_has_columns_types_rows_and_samples(
    client: httpx.AsyncClient,
) -> None:
    rows = "\n".join(
        f"{i},{i * 1.5},name {i},2024-01-{i % 28 + 1:02d},{i % 2 == 0}" for i in range(50)
    )
    data = ("id,score,name,day,flag\n" + rows + "\n").encode()
    profile = await profile_of(client, "table.csv", data)
    assert profile["columns"] == ["id", "score", "name", "day", "flag"]
    assert profile["column_types"] == {
        "id": "integer",
        "score": "number",
        "name": "string",
        "day": "date",
        "flag": "boolean",
    }
    assert (profile["row_count"], profile["row_count_exact"]) == (50, True)
    assert profile["sample_rows"][0] == ["0", "0.0", "name 0", "2024-01-01", "True"]
    assert len(profile["sample_rows"]) == 5
    assert profile["delimiter"] == ","


async def test_a_semicolon_csv_is_sniffed(client: httpx.AsyncClient) -> None:
    profile = await profile_of(client, "eu.csv", b"a;b\n1;x\n2;y\n")
    assert profile["columns"] == ["a", "b"]
    assert profile["delimiter"] == ";"


async def test_a_large_csv_is_counted_by_line_breaks(client: httpx.AsyncClient) -> None:
    data = b"n,text\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(200_000))
    assert len(data) > 2 << 20
    profile = await profile_of(client, "big.csv", data)
    assert (profile["row_count"], profile["row_count_exact"]) == (200_000, False)
    assert profile["column_types"] == {"n": "integer", "text": "string"}


async def test_an_xlsx_profile_reads_the_first_sheet(client: httpx.AsyncClient) -> None:
    rows: list[list[Any]] = [["city", "population", "founded", "capital"]]
    rows += [[f"city {i}", 1000 * i, datetime(1900 + i, 1, 1), i == 0] for i in range(12)]
    profile = await profile_of(client, "cities.xlsx", xlsx_bytes(rows, sheets=("Cities", "Notes")))
    assert profile["sheet"] == "Cities"
    assert profile["sheet_names"] == ["Cities", "Notes"]
    assert profile["columns"] == ["city", "population", "founded", "capital"]
    assert profile["column_types"] == {
        "city": "string",
        "population": "integer",
        "founded": "datetime",
        "capital": "boolean",
    }
    assert profile["row_count"] == 12
    assert profile["sample_rows"][1] == ["city 1", 1000, "1901-01-01T00:00:00", False]


async def test_a_pdf_profile_has_pages_and_first_text(client: httpx.AsyncClient) -> None:
    profile = await profile_of(
        client, "doc.pdf", pdf_bytes(["Quarterly report", "Second page", "Third"])
    )
    assert profile["page_count"] == 3
    assert profile["text"].startswith("Quarterly report")
    assert "Second page" in profile["text"]
    assert profile["encrypted"] is False


async def test_a_json_array_of_records_is_profiled_as_a_table(client: httpx.AsyncClient) -> None:
    records = [{"id": i, "tag": f"t{i}", "extra": {"n": i}} for i in range(8)]
    records[3]["late"] = True
    profile = await profile_of(client, "records.json", json.dumps(records).encode())
    assert profile["kind"] == "array"
    assert profile["columns"] == ["id", "tag", "extra", "late"]
    assert profile["column_types"]["id"] == "integer"
    assert (profile["row_count"], profile["row_count_exact"]) == (8, True)
    assert profile["sample_rows"][0] == [0, "t0", '{"n": 0}', None]


async def test_other_json_documents_say_what_they_hold(client: httpx.AsyncClient) -> None:
    obj = await profile_of(client, "config.json", b'{"b": 1, "a": [1, 2]}')
    assert obj == {"kind": "object", "keys": ["b", "a"], "key_count": 2}
    scalar = await profile_of(client, "n.json", b"42")
    assert scalar == {"kind": "number"}


async def test_a_large_json_array_is_profiled_from_its_start(client: httpx.AsyncClient) -> None:
    data = json.dumps([{"id": i, "value": i / 7} for i in range(80_000)]).encode()
    assert len(data) > 2 << 20
    profile = await profile_of(client, "large.json", data)
    assert profile["columns"] == ["id", "value"]
    assert profile["column_types"] == {"id": "integer", "value": "number"}
    assert profile["row_count"] is None
    assert "first 2 MiB" in profile["note"]


async def test_a_text_profile_has_lines(client: httpx.AsyncClient) -> None:
    profile = await profile_of(client, "notes.txt", "première\nsecond\nthird".encode())
    assert profile == {
        "line_count": 3,
        "encoding": "utf-8",
        "first_lines": ["première", "second", "third"],
    }


async def test_a_file_that_cannot_be_profiled_is_still_stored(client: httpx.AsyncClient) -> None:
    ole_garbage = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 600
    profile = await profile_of(client, "old.xls", ole_garbage)
    assert "cannot profile" in profile["error"]
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    profile = await profile_of(client, "book.xlsx", plain_zip.getvalue())
    assert "cannot profile" in profile["error"]
    broken_pdf = b"%PDF-1.4\n this is no pdf body at all"
    profile = await profile_of(client, "broken.pdf", broken_pdf)
    assert "error" in profile


async def test_spreadsheets_uploaded_at_once_are_profiled_two_at_a_time(
    client: httpx.AsyncClient,
) -> None:
    # Each profiling child may take 768 MiB: six bombs at once must not take six of them.
    data = xlsx_bytes([["a", "b"]] + [[i, i * 2] for i in range(3000)])
    seen: list[int] = []
    done = asyncio.Event()

    async def count_children() -> None:
        while not done.is_set():
            seen.append(_profiling_children())
            await asyncio.sleep(0.01)

    counter = asyncio.create_task(count_children())
    profiles = await asyncio.gather(*(profile_of(client, f"sheet{i}.xlsx", data) for i in range(6)))
    done.set()
    await counter
    assert all(profile["row_count"] == 3000 for profile in profiles)
    assert 0 < max(seen) <= PROFILE_CHILDREN


def _profiling_children() -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if b"file_service.profile_child" in cmdline.read():
                    count += 1
    return count
