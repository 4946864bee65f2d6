"""The envelope every command and event travels in, on the bus and in the store's metadata."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

ENVELOPE_SCHEMA_VERSION = 1


class Envelope(BaseModel):
    """Metadata around one message; `payload` is the JSON of a contract named by `type`.

    Events carry their stream version and global position; commands leave both unset.
    """

    model_config = ConfigDict(frozen=True)

    message_id: UUID = Field(description="Unique per message; the event id for events")
    type: str = Field(description="Message type, e.g. `thread.created`; also the routing key")
    stream_id: str = Field(description="The stream (aggregate) the message is about")
    stream_version: int | None = Field(
        default=None, description="Version of the event in its stream, from 0; None for commands"
    )
    global_position: int | None = Field(
        default=None, description="Position in the store's global log; None for commands"
    )
    correlation_id: UUID = Field(description="Shared by every message of one user request")
    causation_id: UUID | None = Field(default=None, description="The message that caused this")
    occurred_at: datetime
    schema_version: int = Field(default=ENVELOPE_SCHEMA_VERSION, ge=1)
    payload: dict[str, Any]
    trace: dict[str, str] = Field(
        default_factory=dict, description="W3C trace context (`traceparent`, `tracestate`)"
    )
