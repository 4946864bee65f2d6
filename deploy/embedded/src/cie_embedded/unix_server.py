"""Serve an ASGI app on a Unix socket inside the running event loop (no signal handling).

The embedded process serves file-service this way, so the gateway reaches it with the same
HTTP client, and the same streaming, as in distributed mode.
"""

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT_S = 30.0


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT and SIGTERM to the process's main server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serve_on_unix_socket(app: ASGIApp, name: str) -> AsyncIterator[str]:
    """Serve `app` until the block ends; yields the socket path (short, in a private dir)."""
    with tempfile.TemporaryDirectory(prefix="cie-") as directory:
        socket = str(Path(directory) / f"{name}.sock")
        server = _EmbeddedServer(
            # log_config None: leave logging as the process's main server configured it.
            uvicorn.Config(app, uds=socket, log_config=None, access_log=False)
        )
        serving = asyncio.create_task(server.serve())
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_S):
                while not server.started:
                    if serving.done():
                        serving.result()  # raises why it stopped
                        raise RuntimeError(f"{name} stopped while starting")
                    await asyncio.sleep(0.01)
            yield socket
        finally:
            server.should_exit = True
            await serving
