"""Talks to file-service over HTTP, streaming bodies both ways (never a whole file in memory).

In distributed mode file-service is another host; in the embedded mode it is served on a Unix
socket in the same process. Either way this is the gateway's only way to files.
"""

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from gateway.errors import GatewayError, UpstreamTimeout, UpstreamUnavailable

# Request headers a download passes on, so ranges and caching work end to end.
FORWARDED_REQUEST_HEADERS = ("range", "if-range", "if-none-match")
# Response headers a download passes back.
FORWARDED_RESPONSE_HEADERS = (
    "content-type",
    "content-length",
    "content-disposition",
    "content-range",
    "accept-ranges",
    "etag",
    "last-modified",
    "cache-control",
)
CHUNK = 1 << 20

logger = logging.getLogger(__name__)


class UpstreamError(GatewayError):
    """file-service refused the request; its status and detail pass through unchanged."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code


class FileServiceClient:
    """The gateway's port to file-service."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def upload(
        self, content_type: str, content_length: str | None, body: AsyncIterator[bytes]
    ) -> dict[str, Any]:
        """Stream a multipart upload as the client sent it; returns file-service's JSON."""
        headers = {"content-type": content_type}
        if content_length is not None:
            headers["content-length"] = content_length
        response = await self._call("POST", "/files", headers=headers, content=body)
        return await _json_or_raise(response)

    async def check(self) -> str:
        """Readiness: file-service answers its health probe."""
        response = await self._call("GET", "/healthz")
        if response.status_code != 200:
            raise UpstreamError(response.status_code, "file-service is not healthy")
        return "healthy"

    async def meta(self, file_id: str) -> dict[str, Any]:
        """Metadata and profile of a file."""
        return await _json_or_raise(await self._call("GET", f"/files/{file_id}/meta"))

    async def open(self, file_id: str, request_headers: Mapping[str, str]) -> httpx.Response:
        """A streamed download response (status 200, 206 or 304); the caller closes it."""
        headers = {
            name: request_headers[name]
            for name in FORWARDED_REQUEST_HEADERS
            if name in request_headers
        }
        response = await self._call("GET", f"/files/{file_id}", headers=headers, stream=True)
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            await _json_or_raise(response)
        return response

    async def _call(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: AsyncIterator[bytes] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        request = self._client.build_request(method, path, headers=headers, content=content)
        try:
            return await self._client.send(request, stream=stream)
        except httpx.TimeoutException:
            raise UpstreamTimeout("file-service did not answer in time") from None
        except httpx.TransportError as error:
            logger.warning("file-service not reached for %s %s: %r", method, path, error)
            raise UpstreamUnavailable(
                "file-service cannot be reached; try again in a moment"
            ) from None


def response_headers(upstream: httpx.Response) -> dict[str, str]:
    """The download headers to pass back to the client."""
    return {
        name: upstream.headers[name]
        for name in FORWARDED_RESPONSE_HEADERS
        if name in upstream.headers
    }


async def _json_or_raise(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            detail = str(response.json().get("detail", response.text))
        except ValueError:
            detail = response.text or f"file-service answered {response.status_code}"
        status = response.status_code if response.status_code < 500 else 502
        raise UpstreamError(status, detail)
    body: dict[str, Any] = response.json()
    return body
