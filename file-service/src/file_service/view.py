"""The file list read model: its rows, its port, and the pure event -> row mapping.

A file's stream holds exactly one event (FileUploaded or FileProduced), so applying is an
insert-if-absent: idempotent, and order between files does not matter.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from contracts.files import FileProduced, FileUploaded
from contracts.registry import parse_event
from eventkit.store import StoredEvent, category_of

FILE_CATEGORY = "file"
UPLOADED = "uploaded"
GENERATED = "generated"


@dataclass(frozen=True)
class FileRow:
    """One file as the API shows it; `position` is its event's global position."""

    file_id: str
    filename: str
    size: int
    sha256: str
    media_type: str
    blob_key: str
    created_at: int
    origin: str
    thread_id: str | None
    run_id: str | None
    profile: dict[str, Any] | None
    position: int


class FileView(Protocol):
    """Storage of the file list."""

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        """Add the files these events describe; files already present are left as they are."""
        ...

    async def get(self, file_id: str) -> FileRow | None:
        """The file, if projected."""
        ...

    async def produced_for_thread(self, thread_id: str) -> list[FileRow]:
        """Files that runs of the thread generated, oldest first."""
        ...

    async def stored_bytes(self) -> int:
        """The sum of the sizes of the files in the list: what counts against the storage
        limit (a file taken out of the list no longer does)."""
        ...

    async def dump(self) -> tuple[FileRow, ...]:
        """Every row, sorted by file id: what replay compares."""
        ...

    async def replace_all(self, rows: Sequence[FileRow]) -> None:
        """Make the view hold exactly `rows` (replay swapping in a rebuild)."""
        ...


def row_for(event: StoredEvent) -> FileRow | None:
    """The row a file event adds (None for any other event)."""
    if category_of(event.stream_id) != FILE_CATEGORY:
        return None
    contract = parse_event(event.event_type, dict(event.data))
    if isinstance(contract, FileUploaded):
        return _row(event, contract, UPLOADED, None, None, contract.profile)
    if isinstance(contract, FileProduced):
        return _row(event, contract, GENERATED, contract.thread_id, contract.run_id, None)
    return None


def _row(
    event: StoredEvent,
    file: FileUploaded | FileProduced,
    origin: str,
    thread_id: str | None,
    run_id: str | None,
    profile: dict[str, Any] | None,
) -> FileRow:
    return FileRow(
        file_id=file.file_id,
        filename=file.filename,
        size=file.size,
        sha256=file.sha256,
        media_type=file.media_type,
        blob_key=file.blob_key,
        created_at=int(file.created_at.timestamp()),
        origin=origin,
        thread_id=thread_id,
        run_id=run_id,
        profile=profile,
        position=event.global_position,
    )
