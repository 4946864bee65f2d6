"""The file list in a dict: the shipped adapter for tests, dev mode and replay rebuilds."""

from collections.abc import Sequence

from eventkit.store import StoredEvent
from file_service.view import GENERATED, FileRow, row_for


class InMemoryFileView:
    """A FileView in memory."""

    def __init__(self) -> None:
        self._rows: dict[str, FileRow] = {}

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        for event in events:
            row = row_for(event)
            if row is not None:
                self._rows.setdefault(row.file_id, row)

    async def get(self, file_id: str) -> FileRow | None:
        return self._rows.get(file_id)

    async def produced_for_thread(self, thread_id: str) -> list[FileRow]:
        found = [
            row
            for row in self._rows.values()
            if row.origin == GENERATED and row.thread_id == thread_id
        ]
        return sorted(found, key=lambda row: row.position)

    async def stored_bytes(self) -> int:
        return sum(row.size for row in self._rows.values())

    async def dump(self) -> tuple[FileRow, ...]:
        return tuple(self._rows[key] for key in sorted(self._rows))

    async def replace_all(self, rows: Sequence[FileRow]) -> None:
        self._rows = {row.file_id: row for row in rows}
