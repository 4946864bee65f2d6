"""Files through the gateway, with file-service as its own process (distributed mode)."""

import base64
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import Distributed
from tests.e2e.processes import wait_until_http_ready

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.rabbitmq]


def csv_bytes(rows: int) -> bytes:
    return b"id,value,label\n" + b"".join(f"{i},{i * 0.5},row{i}\n".encode() for i in range(rows))


def test_round_trip_of_bytes_and_a_range(system: Distributed) -> None:
    data = csv_bytes(50_000)
    with system.client() as http:
        uploaded = http.post("/api/upload", files={"file": ("big.csv", data)})
        assert uploaded.status_code == 200, uploaded.text
        file_id = uploaded.json()["file_id"]
        downloaded = http.get(f"/api/file/{file_id}")
        assert hashlib.sha256(downloaded.content).digest() == hashlib.sha256(data).digest()
        part = http.get(f"/api/file/{file_id}", headers={"range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.content == data[100:200]
        meta = http.get(f"/api/file/{file_id}/meta").json()
        assert meta["size"] == len(data)
        assert meta["origin"]["kind"] == "uploaded"


def test_refusals_cross_the_process_boundary_unchanged(system: Distributed) -> None:
    with system.client() as http:
        refused = http.post("/api/upload", files={"file": ("x.exe", b"MZ")})
        assert refused.status_code == 415
        assert ".csv" in refused.json()["detail"]
        assert http.post("/api/upload", files={"file": ("e.csv", b"")}).status_code == 400
        bad_json = http.post("/api/upload", files={"file": ("d.json", b"{oops")})
        assert bad_json.status_code == 400
        missing = http.get("/api/file/file-doesnotexist")
        assert missing.status_code == 404
        assert isinstance(missing.json()["detail"], str)


def test_two_concurrent_uploads_of_the_same_name_are_both_kept(system: Distributed) -> None:
    first, second = csv_bytes(100), csv_bytes(200)

    def send(data: bytes) -> str:
        with system.client() as http:
            response = http.post("/api/upload", files={"file": ("same.csv", data)})
            assert response.status_code == 200, response.text
            file_id: str = response.json()["file_id"]
            return file_id

    with ThreadPoolExecutor(2) as pool:
        ids = list(pool.map(send, [first, second]))
    assert ids[0] != ids[1]
    with system.client() as http:
        assert http.get(f"/api/file/{ids[0]}").content == first
        assert http.get(f"/api/file/{ids[1]}").content == second


def test_file_service_restart_between_upload_and_download(system: Distributed) -> None:
    data = csv_bytes(1000)
    with system.client() as http:
        file_id = http.post("/api/upload", files={"file": ("keep.csv", data)}).json()["file_id"]
    system.restart("file-service")
    port = system.files_env["CIE_FILE_SERVICE_PORT"]
    wait_until_http_ready(f"http://127.0.0.1:{port}/healthz", list(system.services.values()))
    with system.client() as http:
        assert http.get(f"/api/file/{file_id}").content == data
        assert http.get(f"/api/file/{file_id}/meta").json()["filename"] == "keep.csv"


def test_a_large_download_streams_through(system: Distributed) -> None:
    data = base64.b64encode(os.urandom(3 << 18)) * 64  # 64 MiB of text
    with system.client() as http:
        uploaded = http.post("/api/upload", files={"file": ("noise.txt", data)})
        assert uploaded.status_code == 200, uploaded.text
        url = f"/api/file/{uploaded.json()['file_id']}"
        with http.stream("GET", url) as response:
            assert response.headers["content-length"] == str(len(data))
            digest = hashlib.sha256()
            for chunk in response.iter_raw(1 << 20):
                digest.update(chunk)
        assert digest.digest() == hashlib.sha256(data).digest()
