"""What a service answers to a command it was sent."""

from pydantic import Field

from contracts.base import Contract


class CommandReply(Contract):
    """The outcome of one command: where its events landed, or why it was refused."""

    ok: bool
    stream_id: str
    stream_version: int | None = Field(default=None, description="Last version after the command")
    global_position: int | None = Field(default=None, description="Position of its last event")
    error_code: str | None = Field(default=None, description="e.g. `thread_not_found`")
    detail: str | None = None
