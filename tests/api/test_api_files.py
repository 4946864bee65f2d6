"""Upload, download and metadata through the gateway (whole system in memory)."""

import hashlib

import httpx

from tests.api.test_api_errors import assert_error

CSV = b"city,temp,rainy\nOslo,3.5,true\nLima,19.0,false\nPune,31.2,false\n"


async def upload(client: httpx.AsyncClient, name: str, data: bytes) -> httpx.Response:
    return await client.post("/api/upload", files={"file": (name, data)})


async def test_upload_then_download_returns_the_same_bytes(client: httpx.AsyncClient) -> None:
    uploaded = await upload(client, "weather.csv", CSV)
    assert uploaded.status_code == 200, uploaded.text
    body = uploaded.json()
    assert body["status"] == "uploaded"
    assert body["filename"] == "weather.csv"
    assert body["file_id"].startswith("file-")
    download = await client.get(f"/api/file/{body['file_id']}")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(CSV).hexdigest()
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert 'filename="weather.csv"' in download.headers["content-disposition"]
    assert download.headers["content-length"] == str(len(CSV))
    assert download.headers["etag"]


async def test_range_requests_resume_a_download(client: httpx.AsyncClient) -> None:
    file_id = (await upload(client, "weather.csv", CSV)).json()["file_id"]
    part = await client.get(f"/api/file/{file_id}", headers={"range": "bytes=5-14"})
    assert part.status_code == 206
    assert part.content == CSV[5:15]
    assert part.headers["content-range"] == f"bytes 5-14/{len(CSV)}"
    tail = await client.get(f"/api/file/{file_id}", headers={"range": "bytes=-4"})
    assert tail.content == CSV[-4:]
    beyond = await client.get(f"/api/file/{file_id}", headers={"range": "bytes=9999-"})
    assert beyond.status_code == 416


async def test_unchanged_file_answers_304_to_its_etag(client: httpx.AsyncClient) -> None:
    file_id = (await upload(client, "weather.csv", CSV)).json()["file_id"]
    etag = (await client.get(f"/api/file/{file_id}")).headers["etag"]
    again = await client.get(f"/api/file/{file_id}", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""


async def test_meta_describes_the_file_and_profiles_the_table(client: httpx.AsyncClient) -> None:
    file_id = (await upload(client, "weather.csv", CSV)).json()["file_id"]
    meta = await client.get(f"/api/file/{file_id}/meta")
    assert meta.status_code == 200
    body = meta.json()
    assert body["filename"] == "weather.csv"
    assert body["size"] == len(CSV)
    assert body["sha256"] == hashlib.sha256(CSV).hexdigest()
    assert body["origin"] == {"kind": "uploaded", "run_id": None, "thread_id": None}
    profile = body["profile"]
    assert profile is not None
    assert profile["columns"] == ["city", "temp", "rainy"]
    assert profile["row_count"] == 3
    assert profile["sample_rows"][0][0] == "Oslo"


async def test_hostile_names_are_sanitised(client: httpx.AsyncClient) -> None:
    uploaded = await upload(client, "../../etc/pass\x00wd.csv", CSV)
    assert uploaded.status_code == 200, uploaded.text
    name = uploaded.json()["filename"]
    assert "/" not in name
    assert ".." not in name
    assert "\x00" not in name
    assert name.endswith(".csv")


async def test_refusals_reach_the_client_with_their_detail(client: httpx.AsyncClient) -> None:
    await assert_error(await upload(client, "tool.exe", b"MZ..."), 415, ".csv")
    await assert_error(await upload(client, "data.json", b"{not json"), 400, "json")
    await assert_error(await upload(client, "paper.pdf", b"hello"), 400, "pdf")
    await assert_error(await upload(client, "empty.csv", b""), 400, "empty")
    no_file = await client.post("/api/upload", files={"other": ("a.csv", CSV)})
    await assert_error(no_file, 422, "file")
    not_multipart = await client.post("/api/upload", json={"file": "a.csv"})
    await assert_error(not_multipart, 422, "file")


async def test_unknown_and_malformed_file_ids(client: httpx.AsyncClient) -> None:
    await assert_error(await client.get("/api/file/file-nothere"), 404, "not found")
    await assert_error(await client.get("/api/file/file-nothere/meta"), 404, "not found")
    await assert_error(await client.get("/api/file/..%2f..%2fetc"), 404, "not found")
    await assert_error(await client.get("/api/file/notafile"), 400, "malformed file_id")
    await assert_error(await client.get("/api/file/file-a_b/meta"), 400, "malformed file_id")


async def test_json_of_any_depth_gets_an_answer_not_a_server_error(
    client: httpx.AsyncClient,
) -> None:
    shallow = await upload(client, "shallow.json", b"[" * 900 + b"]" * 900)
    assert shallow.status_code == 200, shallow.text
    for depth in (1_000, 100_000):
        deep = await upload(client, "deep.json", b"[" * depth + b"]" * depth)
        await assert_error(deep, 400, "nested")
    # Past the whole-parse size the prefix is scanned element by element: deep there too.
    big = b"[" + b"[" * 5_000 + b"]" * 5_000 + b',{"a": 1}' * 300_000 + b"]"
    await assert_error(await upload(client, "big.json", big), 400, "nested")


def _xlsx_with_one_row(cells: int) -> bytes:
    """A small .xlsx whose one row holds `cells` cells (a few hundred KB, gigabytes to parse)."""
    import io
    import zipfile

    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.'
            'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
            '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships"><sheets><sheet name="bomb" sheetId="1" r:id="rId1"/></sheets>'
            "</workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": (
            '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main"><sheetData><row r="1">'
            + "<c><v>1</v></c>" * cells
            + "</row></sheetData></worksheet>"
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


async def test_a_spreadsheet_bomb_costs_the_server_nothing(client: httpx.AsyncClient) -> None:
    import resource

    bomb = _xlsx_with_one_row(4_500_000)
    assert len(bomb) < 1 << 20
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB

    uploaded = await upload(client, "bomb.xlsx", bomb)

    assert uploaded.status_code == 200, uploaded.text
    meta = await client.get(f"/api/file/{uploaded.json()['file_id']}/meta")
    assert "error" in meta.json()["profile"], meta.text  # a limit was hit, and said so
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mib < 50, f"the server's peak memory grew by {grown_mib:.0f} MiB"
