"""Every message type by its `type` string: the one place a reader turns JSON into a contract."""

from typing import Any

from contracts.base import Contract
from contracts.files import FileProduced, FileUploaded
from contracts.runs import (
    AssistantMessagePosted,
    CodeExecuted,
    RequestRun,
    RunCompleted,
    RunFailed,
    RunRequested,
    RunStarted,
)
from contracts.threads import CreateThread, PostUserMessage, ThreadCreated, UserMessagePosted

COMMANDS: dict[str, type[Contract]] = {
    "thread.create": CreateThread,
    "thread.post_user_message": PostUserMessage,
    "thread.request_run": RequestRun,
}

EVENTS: dict[str, type[Contract]] = {
    "thread.created": ThreadCreated,
    "thread.user_message_posted": UserMessagePosted,
    "thread.assistant_message_posted": AssistantMessagePosted,
    "run.requested": RunRequested,
    "run.started": RunStarted,
    "run.code_executed": CodeExecuted,
    "run.completed": RunCompleted,
    "run.failed": RunFailed,
    "file.uploaded": FileUploaded,
    "file.produced": FileProduced,
}


class UnknownMessageType(LookupError):
    """A message type no contract describes."""


def parse_event(event_type: str, data: dict[str, Any]) -> Contract:
    """Validate a stored or received event payload into its contract class."""
    try:
        model = EVENTS[event_type]
    except KeyError:
        raise UnknownMessageType(event_type) from None
    return model.model_validate(data)


def parse_command(command_type: str, data: dict[str, Any]) -> Contract:
    """Validate a received command payload into its contract class."""
    try:
        model = COMMANDS[command_type]
    except KeyError:
        raise UnknownMessageType(command_type) from None
    return model.model_validate(data)
