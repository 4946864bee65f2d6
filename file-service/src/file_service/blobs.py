"""The blob store port: write a blob once as a stream, read byte ranges of it as a stream.

Blobs are content-addressed: the key is the hex SHA-256 of the bytes. Why, rather than a key
per file id: the hash has to be computed anyway (it is the file's ETag and its recorded
sha256); writes become idempotent (a retried or concurrent upload of the same bytes lands on
the same key, atomically, whatever the file names); a dataset uploaded to many threads is
kept once; and a blob can be verified against its key. The cost is that deleting a blob must
first check that no file event still names it; nothing deletes files yet.
"""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

BLOB_KEY_PATTERN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class BlobInfo:
    """A committed blob: its key, size in bytes and hex SHA-256 (equal to the key)."""

    key: str
    size: int
    sha256: str


class BlobNotFound(LookupError):
    """No blob has this key."""


class BlobWriter(Protocol):
    """One blob being written; nothing is visible under any key until `commit`."""

    async def write(self, data: bytes | bytearray) -> None:
        """Append `data`; the writer may hold it until the next call, so do not change it."""
        ...

    async def commit(self) -> BlobInfo:
        """Make the bytes durable and readable under their key."""
        ...

    async def abort(self) -> None:
        """Drop everything written; leaves nothing behind. Safe to call more than once."""
        ...

    @property
    def size(self) -> int:
        """Bytes written so far."""
        ...


class BlobStore(Protocol):
    """Durable, content-addressed blobs."""

    async def begin(self) -> BlobWriter:
        """Start writing a new blob."""
        ...

    async def size(self, key: str) -> int | None:
        """The size of the blob, or None if there is none under `key`."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes [start, end) of the blob in chunks (end None: to the end).

        Raises BlobNotFound when iterated if the blob is missing.
        """
        ...

    def open_reader(self, key: str) -> BinaryIO:
        """A seekable binary reader of the blob for code that needs random access (blocking:
        call it, and use the reader, in a worker thread). Raises BlobNotFound."""
        ...


def check_key(key: str) -> str:
    """`key` if it is a well-formed blob key; a key is never trusted as a path otherwise."""
    if not BLOB_KEY_PATTERN.fullmatch(key):
        raise BlobNotFound(f"malformed blob key {key!r}")
    return key
