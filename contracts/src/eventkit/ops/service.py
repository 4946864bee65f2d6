"""How a service process runs: its JSON logs and traces set up around the whole of it."""

import contextlib
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from eventkit.ops.logs import configure_logging
from eventkit.ops.tracing import configure_tracing


@contextlib.contextmanager
def observed(service: str, log_level: str, *, json_lines: bool) -> Iterator[None]:
    """Logs (JSON lines unless `json_lines` is False) and, if configured, spans named after
    `service`; the spans still buffered are exported when the block ends."""
    configure_logging(service, log_level, json_lines=json_lines)
    stop_tracing = configure_tracing(service)
    try:
        yield
    finally:
        stop_tracing()


def serve_http(app: ASGIApp, *, host: str, port: int, log_level: str) -> None:
    """Serve `app` until SIGTERM or SIGINT (uvicorn; our own logs instead of its access log)."""
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), access_log=False)
