"""Identifier formats shared by every service (the spec's `thread_…`, `msg_…`, `file-…`)."""

import re
import secrets
import string
import uuid

_ALPHABET = string.ascii_letters + string.digits
_ID_BODY = r"[A-Za-z0-9]{1,64}"

THREAD_ID_PATTERN = re.compile(rf"thread_{_ID_BODY}")
MESSAGE_ID_PATTERN = re.compile(rf"msg_{_ID_BODY}")
FILE_ID_PATTERN = re.compile(rf"file-{_ID_BODY}")
RUN_ID_PATTERN = re.compile(rf"run_{_ID_BODY}")

# Namespace for event ids derived from a command id: a redelivered command yields the same ids.
_EVENT_ID_NAMESPACE = uuid.UUID("6f1c3f0e-5b0a-4a55-9a4e-3f6f1e0c2d7b")


def _token(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_thread_id() -> str:
    """A fresh thread id such as `thread_Ab3…` (24 random letters and digits)."""
    return f"thread_{_token()}"


def new_message_id() -> str:
    """A fresh message id such as `msg_Ab3…`."""
    return f"msg_{_token()}"


def new_file_id() -> str:
    """A fresh file id such as `file-Ab3…` (OpenAI's shape)."""
    return f"file-{_token()}"


def new_run_id() -> str:
    """A fresh run id such as `run_Ab3…`."""
    return f"run_{_token()}"


def derived_id(name: str, *parts: str) -> uuid.UUID:
    """A stable event id from names (e.g. a run id and a step): retries yield the same id."""
    return uuid.uuid5(_EVENT_ID_NAMESPACE, ":".join((name, *parts)))


def is_thread_id(value: str) -> bool:
    """Whether `value` has the shape of a thread id."""
    return THREAD_ID_PATTERN.fullmatch(value) is not None


def derived_event_id(command_id: uuid.UUID, index: int) -> uuid.UUID:
    """The id of the `index`-th event a command produces: stable across redeliveries."""
    return uuid.uuid5(_EVENT_ID_NAMESPACE, f"{command_id}:{index}")
