"""Helpers for the run tests: a thread stream written as thread-service would write it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from contracts.base import Contract
from contracts.envelope import Envelope
from contracts.ids import derived_id, new_message_id, new_run_id, new_thread_id
from contracts.runs import RunKind, RunRequested
from contracts.threads import ThreadCreated, UserMessagePosted
from eventkit.envelopes import event_metadata, new_event, to_envelope
from eventkit.store import EventStore, StoredEvent

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


async def append(store: EventStore, thread_id: str, *events: Contract) -> list[StoredEvent]:
    """Append events to the thread as thread-service does; returns them as stored."""
    metadata = event_metadata(correlation_id=uuid.uuid4(), causation_id=None, occurred_at=NOW)
    await store.append(
        thread_id, [new_event(uuid.uuid4(), e, metadata) for e in events], expected_version=None
    )
    stored = await store.read_stream(thread_id)
    return list(stored[-len(events) :])


async def new_thread(store: EventStore) -> str:
    thread_id = new_thread_id()
    await append(store, thread_id, ThreadCreated(thread_id=thread_id, created_at=NOW))
    return thread_id


async def request_run(
    store: EventStore,
    thread_id: str,
    message: str | None,
    *,
    kind: RunKind = "chat",
    file_ids: tuple[str, ...] = (),
    example: str | None = None,
) -> Envelope:
    """Post `message` (if any) and a run request for it; returns the request's envelope."""
    events: list[Contract] = []
    message_id = None
    if message is not None:
        message_id = new_message_id()
        events.append(
            UserMessagePosted(
                thread_id=thread_id, message_id=message_id, content=message, created_at=NOW
            )
        )
    events.append(
        RunRequested.model_validate(
            {
                "thread_id": thread_id,
                "run_id": new_run_id(),
                "kind": kind,
                "message_id": message_id,
                "file_ids": file_ids,
                "example": example,
                "requested_at": NOW,
            }
        )
    )
    stored = await append(store, thread_id, *events)
    return to_envelope(stored[-1])


async def types_of(store: EventStore, thread_id: str) -> list[str]:
    return [event.event_type for event in await store.read_stream(thread_id)]


async def recorded_elsewhere(
    store: EventStore, request: Envelope, *steps: tuple[str, Contract]
) -> None:
    """Append `(key, event)` steps of the request's run as another run-service process would
    (a crashed one, another replica): ids derived from the run and the step's key."""
    run_id = str(request.payload["run_id"])
    metadata = event_metadata(
        correlation_id=request.correlation_id, causation_id=None, occurred_at=NOW
    )
    events = [new_event(derived_id(run_id, key), event, metadata) for key, event in steps]
    await store.append(request.stream_id, events, expected_version=None)
