"""Between stored events and bus envelopes: the metadata every appended event carries."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts.base import Contract
from contracts.envelope import Envelope
from eventkit.ops.trace import current_carrier
from eventkit.storable import storable
from eventkit.store import NewEvent, StoredEvent


def event_metadata(
    *, correlation_id: UUID, causation_id: UUID | None, occurred_at: datetime
) -> dict[str, Any]:
    """The metadata stored with an event, read back by `to_envelope` (with the trace context)."""
    metadata: dict[str, Any] = {
        "correlation_id": str(correlation_id),
        "causation_id": None if causation_id is None else str(causation_id),
        "occurred_at": occurred_at.isoformat(),
    }
    trace = current_carrier()
    if trace:
        metadata["trace"] = trace
    return metadata


def new_event(event_id: UUID, payload: Contract, metadata: Mapping[str, Any]) -> NewEvent:
    """A NewEvent for a contract payload whose `type` field names the event, its text made
    storable (`storable`: NUL and lone surrogates, from user input or code output)."""
    data = storable(payload.model_dump(mode="json"))
    return NewEvent(event_id=event_id, event_type=data["type"], data=data, metadata=metadata)


def to_envelope(event: StoredEvent) -> Envelope:
    """The bus envelope of a committed event."""
    meta = event.metadata
    causation = meta.get("causation_id")
    occurred = meta.get("occurred_at")
    return Envelope(
        message_id=event.event_id,
        type=event.event_type,
        stream_id=event.stream_id,
        stream_version=event.stream_version,
        global_position=event.global_position,
        correlation_id=UUID(meta["correlation_id"]) if "correlation_id" in meta else event.event_id,
        causation_id=UUID(causation) if causation else None,
        occurred_at=datetime.fromisoformat(occurred) if occurred else event.recorded_at,
        schema_version=event.schema_version,
        payload=dict(event.data),
        trace=dict(meta.get("trace") or {}),
    )
