"""Thread commands (handled by thread-service) and thread events (produced by it)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from contracts.base import Contract
from contracts.ids import MESSAGE_ID_PATTERN, THREAD_ID_PATTERN

ThreadId = Field(pattern=THREAD_ID_PATTERN.pattern, description="`thread_…`")
MessageId = Field(pattern=MESSAGE_ID_PATTERN.pattern, description="`msg_…`")

# Bounded so a single message cannot blow up a stream; the gateway enforces the same limit.
MAX_MESSAGE_CHARS = 256 * 1024


class CreateThread(Contract):
    """Open a new, empty conversation thread with the id chosen by the sender."""

    type: Literal["thread.create"] = "thread.create"
    thread_id: str = ThreadId


class PostUserMessage(Contract):
    """Append a user's message to an existing thread."""

    type: Literal["thread.post_user_message"] = "thread.post_user_message"
    thread_id: str = ThreadId
    message_id: str = MessageId
    content: str = Field(max_length=MAX_MESSAGE_CHARS)
    file_ids: tuple[str, ...] = Field(default=(), description="Files attached to the message")


class ThreadCreated(Contract):
    """A thread was opened."""

    type: Literal["thread.created"] = "thread.created"
    thread_id: str = ThreadId
    created_at: datetime


class UserMessagePosted(Contract):
    """A user's message was added to a thread."""

    type: Literal["thread.user_message_posted"] = "thread.user_message_posted"
    thread_id: str = ThreadId
    message_id: str = MessageId
    content: str
    file_ids: tuple[str, ...] = ()
    created_at: datetime


ThreadCommand = CreateThread | PostUserMessage
ThreadEvent = ThreadCreated | UserMessagePosted
