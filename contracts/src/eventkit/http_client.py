"""An HTTP client of another service: base URL, timeouts, optionally over a Unix socket.

Every request carries the current trace context (`traceparent`), so the call joins the trace.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from opentelemetry import propagate

CONNECT_TIMEOUT_S = 5.0


@asynccontextmanager
async def service_client(
    base_url: str, timeout_s: float, *, uds: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the service at `base_url` (over the Unix socket `uds` if given)."""
    transport = httpx.AsyncHTTPTransport(uds=uds) if uds else None
    timeout = httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
    async with httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        transport=transport,
        event_hooks={"request": [_with_trace_context]},
    ) as http:
        yield http


async def _with_trace_context(request: httpx.Request) -> None:
    propagate.inject(request.headers)
