"""Waiting for a run's end: the thread's stream is read until it holds the run's terminal event.

The bus wakes a waiter as soon as this gateway sees the thread change; a short poll covers
events that another gateway instance consumed from the shared projections queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from contracts.envelope import Envelope
from contracts.runs import TERMINAL_RUN_EVENTS, AssistantMessagePosted
from eventkit.store import EventStore

POLL_INTERVAL_S = 0.25


@dataclass(frozen=True)
class RunEnd:
    """How a run ended: its answer, or why it failed; `version` is the terminal event's."""

    run_id: str
    version: int
    answer: AssistantMessagePosted | None = None
    failure: str | None = None


@dataclass
class _Scan:
    from_version: int
    answer: AssistantMessagePosted | None = None


@dataclass
class RunWaiter:
    """Lets requests wait for the end of the runs they asked for."""

    store: EventStore
    poll_interval_s: float = POLL_INTERVAL_S
    _signals: dict[str, set[asyncio.Event]] = field(default_factory=dict)

    def wake_all(self) -> None:
        """Something was committed: every waiter looks at its thread again."""
        for signals in self._signals.values():
            for signal in signals:
                signal.set()

    def on_event(self, event: Envelope) -> None:
        """Wake whoever waits on the event's thread when a run of it ended."""
        if event.type not in TERMINAL_RUN_EVENTS:
            return
        for signal in self._signals.get(event.stream_id, ()):
            signal.set()

    async def wait(self, thread_id: str, run_id: str, *, after_version: int) -> RunEnd:
        """The run's end, looking at the thread's events after `after_version`. No timeout here."""
        signal = asyncio.Event()
        self._signals.setdefault(thread_id, set()).add(signal)
        scan = _Scan(from_version=after_version + 1)
        try:
            while True:
                signal.clear()
                end = await self._look(thread_id, run_id, scan)
                if end is not None:
                    return end
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval_s):
                        await signal.wait()
        finally:
            waiting = self._signals[thread_id]
            waiting.discard(signal)
            if not waiting:
                del self._signals[thread_id]

    async def _look(self, thread_id: str, run_id: str, scan: _Scan) -> RunEnd | None:
        events = await self.store.read_stream(thread_id, from_version=scan.from_version)
        for event in events:
            scan.from_version = event.stream_version + 1
            if event.data.get("run_id") != run_id:
                continue
            if event.event_type == "thread.assistant_message_posted":
                scan.answer = AssistantMessagePosted.model_validate(dict(event.data))
            elif event.event_type == "run.completed":
                return RunEnd(run_id, event.stream_version, answer=scan.answer)
            elif event.event_type == "run.failed":
                return RunEnd(run_id, event.stream_version, failure=str(event.data.get("reason")))
        return None
