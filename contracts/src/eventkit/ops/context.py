"""What a handler of a bus message runs inside: its correlation id, trace context and span."""

import contextlib
from collections.abc import Iterator

from opentelemetry.trace import SpanKind

from contracts.envelope import Envelope
from eventkit.ops.logs import CORRELATION_ID
from eventkit.ops.trace import continued, spanned


@contextlib.contextmanager
def handling(message: Envelope) -> Iterator[None]:
    """Logs name the message's correlation id; appends and publishes carry its trace, with a
    consumer span (child of the message's sender) as their parent."""
    token = CORRELATION_ID.set(str(message.correlation_id))
    try:
        with (
            continued(message.trace),
            spanned(f"handle {message.type}", kind=SpanKind.CONSUMER) as span,
        ):
            if span.is_recording():
                span.set_attributes(
                    {
                        "messaging.message.type": message.type,
                        "messaging.message.id": str(message.message_id),
                        "cie.stream_id": message.stream_id,
                        "cie.correlation_id": str(message.correlation_id),
                    }
                )
            yield
    finally:
        CORRELATION_ID.reset(token)
