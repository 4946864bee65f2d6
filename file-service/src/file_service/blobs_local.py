"""Blobs as files under a local directory (a volume in deployment).

Layout: `objects/ab/<sha256>` for committed blobs, `tmp/<random>.part` while writing. A write
goes to a temporary file, is fsynced, then renamed onto its key and the directory fsynced, so
a blob is either whole under its key or absent, even across a crash. `tmp/` lives on the same
file system as `objects/` (rename is atomic only there); it is a directory of its own because
the final directory depends on the hash, known only at the end, and so that leftovers of a
crash are easy to find and sweep.

Blocking file I/O runs in worker threads, one call per large chunk; writes are pipelined (the
next chunk is received while the previous one is hashed and written; hashlib releases the GIL).
"""

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from file_service.blobs import BlobInfo, BlobNotFound, check_key

logger = logging.getLogger(__name__)

READ_CHUNK_BYTES = 1 << 20
STALE_TEMP_SECONDS = 24 * 3600
"""Temporary files older than this are leftovers of a crash (no upload takes a day)."""


class LocalBlobWriter:
    """A BlobWriter streaming into one temporary file."""

    def __init__(self, root: Path, fd: int, temp: Path) -> None:
        self._root = root
        self._fd = fd
        self._temp = temp
        self._hash = hashlib.sha256()
        self._size = 0
        self._pending: asyncio.Future[None] | None = None
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    async def write(self, data: bytes | bytearray) -> None:
        if self._closed:
            raise RuntimeError("blob writer already committed or aborted")
        await self._settle()
        self._size += len(data)
        self._pending = asyncio.ensure_future(asyncio.to_thread(self._write_sync, data))

    def _write_sync(self, data: bytes | bytearray) -> None:
        self._hash.update(data)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    async def _settle(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            await pending

    async def commit(self) -> BlobInfo:
        await self._settle()
        self._closed = True
        key = self._hash.hexdigest()
        try:
            await asyncio.to_thread(self._commit_sync, key)
        except BaseException:
            await self.abort()
            raise
        return BlobInfo(key=key, size=self._size, sha256=key)

    def _commit_sync(self, key: str) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = -1
        target = blob_path(self._root, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Same bytes under the same key: replacing an existing blob changes nothing.
        os.replace(self._temp, target)
        _fsync_dir(target.parent)

    async def abort(self) -> None:
        self._closed = True
        with contextlib.suppress(BaseException):
            await self._settle()
        await asyncio.to_thread(self._discard_sync)

    def _discard_sync(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._temp.unlink(missing_ok=True)


class LocalBlobStore:
    """A BlobStore in the directory `root` (created if missing)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.temp_dir = self.root / "tmp"
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        self.temp_dir.mkdir(parents=True, exist_ok=True)

    async def begin(self) -> LocalBlobWriter:
        def create() -> tuple[int, Path]:
            temp = self.temp_dir / f"{os.urandom(12).hex()}.part"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            return os.open(temp, flags, 0o600), temp

        fd, temp = await asyncio.to_thread(create)
        return LocalBlobWriter(self.root, fd, temp)

    async def size(self, key: str) -> int | None:
        try:
            path = blob_path(self.root, key)
            return (await asyncio.to_thread(path.stat)).st_size
        except (FileNotFoundError, BlobNotFound):
            return None

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        fd = await asyncio.to_thread(self._open_fd, key)
        ahead: asyncio.Future[bytes] | None = None
        try:
            stop = (await asyncio.to_thread(os.fstat, fd)).st_size
            stop = stop if end is None else min(end, stop)
            offset = start
            # Read ahead: the next chunk is read while the current one is being sent.
            ahead = _read_task(fd, offset, stop)
            while ahead is not None:
                chunk = await ahead
                offset += len(chunk)
                ahead = _read_task(fd, offset, stop) if chunk else None
                if chunk:
                    yield chunk
        finally:
            if ahead is not None and not ahead.done():
                # A reader that stopped early (client gone): the thread still uses the fd,
                # so close it when that read ends, never under it.
                ahead.add_done_callback(lambda _: os.close(fd))
            else:
                os.close(fd)

    def open_reader(self, key: str) -> BinaryIO:
        try:
            return blob_path(self.root, key).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def sweep_temp(self, older_than_s: float = STALE_TEMP_SECONDS) -> int:
        """Delete temporary files left by crashed writers; returns how many (blocking)."""
        cutoff, removed = time.time() - older_than_s, 0
        for leftover in self.temp_dir.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    removed += 1
        if removed:
            logger.info("removed %d stale temporary blob files", removed)
        return removed

    def _open_fd(self, key: str) -> int:
        try:
            return os.open(blob_path(self.root, key), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise BlobNotFound(key) from None


def blob_path(root: Path, key: str) -> Path:
    """Where the blob `key` lives under `root` (two-level fan-out keeps directories small)."""
    check_key(key)
    return root / "objects" / key[:2] / key


def _read_task(fd: int, offset: int, stop: int) -> "asyncio.Future[bytes] | None":
    if offset >= stop:
        return None
    return asyncio.ensure_future(
        asyncio.to_thread(os.pread, fd, min(READ_CHUNK_BYTES, stop - offset), offset)
    )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
