"""Exchanges, queues and routing keys: the one place the bus topology is named.

Routing keys are message types (`<aggregate>.<event>`), so `thread.*` binds every thread event.
Queues are named `<consumer-service>.<purpose>`.
"""

EVENTS_EXCHANGE = "cie.events"
"""Topic exchange the relay publishes committed events to."""

DEAD_LETTER_EXCHANGE = "cie.dlx"
"""Topic exchange rejected messages go to once their delivery limit is spent."""

COMMANDS_EXCHANGE = "cie.commands"
"""Topic exchange commands are sent to; each owning service binds its command types."""

THREAD_COMMANDS_QUEUE = "thread-service.commands"
THREAD_COMMAND_KEYS = ("thread.create", "thread.post_user_message", "thread.request_run")

GATEWAY_PROJECTIONS_QUEUE = "gateway.projections"
THREAD_EVENT_KEYS = ("thread.*", "run.*")
"""Everything in thread streams: messages and the runs that answer them."""

RUN_SERVICE_QUEUE = "run-service.runs"
RUN_REQUEST_KEYS = ("run.requested",)


def dead_letter_queue(queue: str) -> str:
    """The queue holding what `queue` gave up on."""
    return f"{queue}.dlq"


FILE_EVENT_KEYS = ("file.*",)
