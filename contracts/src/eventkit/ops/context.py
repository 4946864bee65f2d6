"""What a handler of a bus message runs inside: its correlation id and trace context."""

import contextlib
from collections.abc import Iterator

from contracts.envelope import Envelope
from eventkit.ops.logs import CORRELATION_ID
from eventkit.ops.trace import continued


@contextlib.contextmanager
def handling(message: Envelope) -> Iterator[None]:
    """Logs name the message's correlation id; appends and publishes carry its trace."""
    token = CORRELATION_ID.set(str(message.correlation_id))
    try:
        with continued(message.trace):
            yield
    finally:
        CORRELATION_ID.reset(token)
