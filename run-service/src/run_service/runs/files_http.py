"""FileStore over file-service's internal HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from eventkit.http_client import service_client
from run_service.runs.files import FileInfo, FileUnavailable

CHUNK_BYTES = 1 << 20


class HttpFileStore:
    """Talks to file-service (`/files/{id}/meta`, `/files/{id}`, `/files/produced`)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._http = client

    async def describe(self, file_id: str) -> FileInfo:
        response = await self._get(f"/files/{file_id}/meta")
        body = response.json()
        return FileInfo(
            file_id=body["file_id"],
            filename=body["filename"],
            media_type=body["media_type"],
            profile=body.get("profile"),
        )

    async def download(self, file_id: str) -> AsyncIterator[bytes]:
        async with self._http.stream("GET", f"/files/{file_id}") as response:
            if response.status_code != 200:
                raise FileUnavailable(f"file-service answered {response.status_code} for {file_id}")
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                yield chunk

    async def register_produced(
        self, *, filename: str, data: bytes, thread_id: str, run_id: str
    ) -> str:
        response = await self._http.post(
            "/files/produced",
            params={"filename": filename, "thread_id": thread_id, "run_id": run_id},
            content=data,
        )
        if response.status_code != 201:
            raise FileUnavailable(
                f"file-service refused {filename!r} ({response.status_code}): {response.text[:300]}"
            )
        file_id: str = response.json()["file_id"]
        return file_id

    async def _get(self, path: str) -> httpx.Response:
        try:
            response = await self._http.get(path)
        except httpx.HTTPError as error:
            raise FileUnavailable(f"file-service unreachable: {error}") from None
        if response.status_code != 200:
            raise FileUnavailable(f"file-service answered {response.status_code} for {path}")
        return response


@asynccontextmanager
async def http_file_store(
    base_url: str, timeout_s: float, *, uds: str | None = None
) -> AsyncIterator[HttpFileStore]:
    """A FileStore for file-service at `base_url` (over the Unix socket `uds` if given)."""
    async with service_client(base_url, timeout_s, uds=uds) as http:
        yield HttpFileStore(http)
