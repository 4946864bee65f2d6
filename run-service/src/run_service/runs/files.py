"""The file-service port of run-service: attached files in, generated files out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from contracts.ids import new_file_id


class FileUnavailable(Exception):
    """file-service does not know the file or could not serve it."""


@dataclass(frozen=True)
class FileInfo:
    """An uploaded file as a run needs it."""

    file_id: str
    filename: str
    media_type: str
    profile: dict[str, Any] | None = None


class FileStore(Protocol):
    """What run-service asks of file-service."""

    async def describe(self, file_id: str) -> FileInfo:
        """The file's name and profile; FileUnavailable if unknown."""
        ...

    def download(self, file_id: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks; FileUnavailable if unknown."""
        ...

    async def register_produced(
        self, *, filename: str, data: bytes, thread_id: str, run_id: str
    ) -> str:
        """Keep a file a run generated; returns its new file id."""
        ...


@dataclass
class InMemoryFileStore:
    """Files held in a dict (tests and demos)."""

    files: dict[str, tuple[FileInfo, bytes]] = field(default_factory=dict)
    produced: list[tuple[str, str, str]] = field(default_factory=list)  # (file id, thread, run)

    def add(self, filename: str, data: bytes, *, media_type: str = "text/csv") -> str:
        """Store an 'uploaded' file; returns its id."""
        file_id = new_file_id()
        self.files[file_id] = (FileInfo(file_id, filename, media_type), data)
        return file_id

    async def describe(self, file_id: str) -> FileInfo:
        try:
            return self.files[file_id][0]
        except KeyError:
            raise FileUnavailable(f"File {file_id} not found") from None

    async def download(self, file_id: str) -> AsyncIterator[bytes]:
        await self.describe(file_id)
        yield self.files[file_id][1]

    async def register_produced(
        self, *, filename: str, data: bytes, thread_id: str, run_id: str
    ) -> str:
        file_id = self.add(filename, data, media_type="application/octet-stream")
        self.produced.append((file_id, thread_id, run_id))
        return file_id
