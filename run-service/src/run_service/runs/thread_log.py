"""What run-service reads from a thread's stream: its runs in order and its conversation.

Pure functions over stored events; the stream is the only record of which runs are pending.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts.registry import UnknownMessageType, parse_event
from contracts.runs import (
    AssistantMessagePosted,
    CodeExecuted,
    RunCompleted,
    RunFailed,
    RunRequested,
    RunStarted,
)
from contracts.threads import UserMessagePosted
from eventkit.store import EventStore, StoredEvent
from run_service.engines import HistoryMessage


@dataclass
class RunRecord:
    """One requested run and how far it got."""

    request: RunRequested
    event: StoredEvent
    started: bool = False
    ended: bool = False


@dataclass
class ThreadLog:
    """A thread's runs in request order, and its messages by id in posting order."""

    runs: list[RunRecord] = field(default_factory=list)
    # message id -> (role, text), in posting order (dicts keep insertion order)
    messages: dict[str, tuple[str, str]] = field(default_factory=dict)
    version: int = -1
    code_ran: bool = False  # some run of the thread executed code (in some session)
    last_code_run: str | None = None  # the run whose code executed last, wherever it ran
    _by_run: dict[str, RunRecord] = field(default_factory=dict)

    def apply(self, events: Sequence[StoredEvent]) -> None:
        """Fold in events that follow `version` (earlier ones are skipped)."""
        for event in events:
            if event.stream_version <= self.version:
                continue  # already folded in
            self.version = event.stream_version
            try:
                contract = parse_event(event.event_type, dict(event.data))
            except UnknownMessageType:
                continue  # written by a newer version: nothing a run depends on
            match contract:
                case RunRequested():
                    record = RunRecord(request=contract, event=event)
                    self._by_run[contract.run_id] = record
                    self.runs.append(record)
                case RunStarted() if contract.run_id in self._by_run:
                    self._by_run[contract.run_id].started = True
                case RunCompleted() | RunFailed() if contract.run_id in self._by_run:
                    self._by_run[contract.run_id].ended = True
                case CodeExecuted():
                    self.code_ran = True
                    self.last_code_run = contract.run_id
                case UserMessagePosted():
                    self.messages[contract.message_id] = ("user", contract.content)
                case AssistantMessagePosted():
                    self.messages[contract.message_id] = ("assistant", contract.content)

    def unfinished_through(self, run_id: str) -> list[RunRecord]:
        """Runs not yet ended, oldest first, up to and including `run_id`."""
        pending: list[RunRecord] = []
        for record in self.runs:
            if not record.ended:
                pending.append(record)
            if record.request.run_id == run_id:
                return pending
        return []

    def history_before(self, record: RunRecord) -> tuple[HistoryMessage, ...]:
        """The conversation before the run's own message (what a model is shown)."""
        own = record.request.message_id
        history: list[HistoryMessage] = []
        for message_id, (role, text) in self.messages.items():
            if message_id == own:
                break
            history.append(
                HistoryMessage(role="user" if role == "user" else "assistant", content=text)
            )
        return tuple(history)

    def attached_through(self, record: RunRecord) -> list[str]:
        """File ids attached by this run and every earlier one, first attachment first."""
        seen: dict[str, None] = {}
        for earlier in self.runs:
            for file_id in earlier.request.file_ids:
                seen.setdefault(file_id)
            if earlier is record:
                break
        return list(seen)


class ThreadLogs:
    """The logs of recently active threads, kept up to date by reading only what is new."""

    def __init__(self, store: EventStore, capacity: int = 256) -> None:
        self._store = store
        self._capacity = capacity
        self._logs: OrderedDict[str, ThreadLog] = OrderedDict()

    async def read(self, thread_id: str) -> ThreadLog:
        """The thread's log as the store has it now."""
        log = self._logs.pop(thread_id, None) or ThreadLog()
        log.apply(await self._store.read_stream(thread_id, from_version=log.version + 1))
        self._logs[thread_id] = log
        while len(self._logs) > self._capacity:
            self._logs.popitem(last=False)
        return log
