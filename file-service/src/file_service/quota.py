"""The storage limit: the total size of stored files, uploads in flight included, stays under it.

What is stored is counted from the file list (the read model's sum of sizes), so the count
survives restarts and follows whatever changes the list; it is read afresh as each upload
begins. Bytes of uploads still being received are reserved in this process as they arrive, so
two uploads racing for the last room cannot both pass: the one whose bytes would go past the
limit is refused mid-stream, before its blob is committed, so nothing is left of it.

Reading the list's total and recording a file (appending its event, adding it to the list) are
done under one lock, so a file is always counted exactly once: as reserved bytes until it is in
the list, then as part of the list's total. The reservation is in-process: replicas of
file-service sharing one database each see the others' files only once they are recorded.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from file_service.errors import StorageLimitReached
from file_service.view import FileView


class Reservation:
    """The bytes one upload has been granted so far."""

    def __init__(self, quota: "StorageQuota") -> None:
        self._quota = quota
        self.size = 0

    def take(self, size: int) -> None:
        """Grant `size` more bytes, or raise StorageLimitReached: the upload is then over, and
        what it held is given back at once, not once its partial blob has been removed (an
        upload racing it for the room would otherwise be refused too)."""
        self._quota._take(size, self)
        self.size += size


class StorageQuota:
    """The limit (0: none) on the total bytes of the files in `view` and of uploads in flight."""

    def __init__(self, view: FileView, limit_bytes: int) -> None:
        if limit_bytes < 0:
            raise ValueError("the storage limit cannot be negative (0 means no limit)")
        self.limit_bytes = limit_bytes
        self._view = view
        self._lock = asyncio.Lock()
        self._stored = 0  # the list's total as last read, plus files recorded since
        self._reserved = 0  # bytes granted to uploads not recorded yet

    @asynccontextmanager
    async def reserving(self) -> AsyncIterator[Reservation]:
        """A reservation for one upload; what it holds is given back when the block ends,
        unless `recording` counted it as stored."""
        if self.limit_bytes:
            async with self._lock:
                await self._refresh()
        reservation = Reservation(self)
        try:
            yield reservation
        finally:
            self._reserved -= reservation.size
            reservation.size = 0

    @asynccontextmanager
    async def recording(self, reservation: Reservation) -> AsyncIterator[None]:
        """Around recording the reserved file: when the block succeeds its bytes count as stored."""
        async with self._lock:
            yield
            self._stored += reservation.size
            self._reserved -= reservation.size
            reservation.size = 0

    def _take(self, size: int, reservation: Reservation) -> None:
        used = self._stored + self._reserved
        if self.limit_bytes and used + size > self.limit_bytes:
            self._reserved -= reservation.size
            reservation.size = 0
            # In use: what is stored and what other uploads hold, not this one's own bytes.
            raise StorageLimitReached(self.limit_bytes, self._stored + self._reserved)
        self._reserved += size

    async def _refresh(self) -> None:
        self._stored = await self._view.stored_bytes()
