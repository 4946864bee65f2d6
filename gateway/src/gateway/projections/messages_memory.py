"""The messages read model in dicts: for tests, and as the target of a replay rebuild."""

from collections.abc import Sequence
from dataclasses import replace

from eventkit.store import StoredEvent
from gateway.projections.messages import (
    NOT_PROJECTED,
    MessageRow,
    ThreadRow,
    ViewDump,
    new_events,
    row_for,
)


class InMemoryMessagesView:
    """A MessagesView held in memory."""

    def __init__(self) -> None:
        self._threads: dict[str, ThreadRow] = {}
        self._messages: dict[str, list[MessageRow]] = {}

    async def version_of(self, thread_id: str) -> int:
        row = self._threads.get(thread_id)
        return NOT_PROJECTED if row is None else row.version

    async def apply(self, thread_id: str, events: Sequence[StoredEvent]) -> None:
        fresh = new_events(await self.version_of(thread_id), events)
        for event in fresh:
            row = row_for(event)
            if isinstance(row, ThreadRow):
                self._threads[thread_id] = row
            elif isinstance(row, MessageRow):
                self._messages.setdefault(thread_id, []).append(row)
        if fresh and thread_id in self._threads:
            self._threads[thread_id] = replace(
                self._threads[thread_id], version=fresh[-1].stream_version
            )

    async def thread(self, thread_id: str) -> ThreadRow | None:
        return self._threads.get(thread_id)

    async def messages(self, thread_id: str) -> list[MessageRow]:
        return list(self._messages.get(thread_id, []))

    async def dump(self) -> ViewDump:
        threads = tuple(self._threads[key] for key in sorted(self._threads))
        messages = tuple(
            row for key in sorted(self._messages) for row in sorted(self._messages[key], key=_v)
        )
        return ViewDump(threads=threads, messages=messages)

    async def replace_all(self, dump: ViewDump) -> None:
        self._threads = {row.thread_id: row for row in dump.threads}
        self._messages = {}
        for message in dump.messages:
            self._messages.setdefault(message.thread_id, []).append(message)


def _v(row: MessageRow) -> int:
    return row.version
