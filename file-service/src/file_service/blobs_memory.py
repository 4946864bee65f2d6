"""In-memory blob store: the shipped adapter for tests and the no-infrastructure dev mode."""

import hashlib
import io
from collections.abc import AsyncIterator
from typing import BinaryIO

from file_service.blobs import BlobInfo, BlobNotFound, check_key

READ_CHUNK_BYTES = 1 << 20


class InMemoryBlobWriter:
    """A BlobWriter collecting chunks in a list."""

    def __init__(self, store: "InMemoryBlobStore") -> None:
        self._store = store
        self._chunks: list[bytes] = []
        self._hash = hashlib.sha256()
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    async def write(self, data: bytes | bytearray) -> None:
        chunk = bytes(data)
        self._hash.update(chunk)
        self._chunks.append(chunk)
        self._size += len(chunk)

    async def commit(self) -> BlobInfo:
        key = self._hash.hexdigest()
        self._store.blobs[key] = b"".join(self._chunks)
        self._chunks = []
        return BlobInfo(key=key, size=self._size, sha256=key)

    async def abort(self) -> None:
        self._chunks = []


class InMemoryBlobStore:
    """A BlobStore in a dict of bytes; `blobs` is public so tests can look inside."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def begin(self) -> InMemoryBlobWriter:
        return InMemoryBlobWriter(self)

    async def size(self, key: str) -> int | None:
        data = self.blobs.get(key)
        return None if data is None else len(data)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        data = self._get(key)
        stop = len(data) if end is None else min(end, len(data))
        view = memoryview(data)
        for offset in range(start, stop, READ_CHUNK_BYTES):
            yield bytes(view[offset : min(offset + READ_CHUNK_BYTES, stop)])

    def open_reader(self, key: str) -> BinaryIO:
        return io.BytesIO(self._get(key))

    def _get(self, key: str) -> bytes:
        data = self.blobs.get(check_key(key))
        if data is None:
            raise BlobNotFound(key)
        return data
