"""Why thread-service refuses a command; `code` travels back to the sender in the reply."""


class ThreadServiceError(Exception):
    """Base class: a command that cannot be carried out as asked."""

    code = "thread_service_error"


class ThreadNotFound(ThreadServiceError):
    """The command names a thread that does not exist."""

    code = "thread_not_found"

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"Thread {thread_id} not found")


class ThreadAlreadyExists(ThreadServiceError):
    """A thread with that id exists already."""

    code = "thread_exists"

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"Thread {thread_id} already exists")


class InvalidCommand(ThreadServiceError):
    """The command's payload does not match its contract."""

    code = "invalid_command"
