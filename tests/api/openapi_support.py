"""The gateway for schemathesis: the whole system in memory, served in-process over ASGI.

schemathesis drives an ASGI app from an event loop of its own (one thread for every app), so
the app here opens its own sandbox pool rather than sharing the session's `runs` pool, which
belongs to pytest's event loop. schemathesis also starts the app's lifespan on a test's first
request and ends it after each test; `SharedLifespan` keeps one system (and its sandbox pool,
slow to start) up for the whole module instead.
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from cie_embedded.system import RunsConfig, in_memory_system
from gateway.app import create_app
from gateway.bootstrap import GatewayDeps
from run_service.bootstrap import session_pool
from tests.api.conftest import API_SANDBOX_LIMITS, MAX_BODY


def sandboxed_gateway(root: Path) -> FastAPI:
    """The app as `client` builds it, but opening its sandbox pool under `root` itself."""

    @asynccontextmanager
    async def system() -> AsyncIterator[GatewayDeps]:
        async with session_pool(root, API_SANDBOX_LIMITS) as pool:
            async with in_memory_system(RunsConfig(pool, run_timeout_s=60.0)) as deps:
                yield deps
            # A warm session still starting when the pool closes would outlive it.
            await pool.filled()

    return create_app(system, max_body_bytes=MAX_BODY)


def openapi_document() -> dict[str, Any]:
    """/openapi.json, without starting anything (the document does not depend on the system)."""
    return sandboxed_gateway(Path("/nonexistent")).openapi()


class SharedLifespan:
    """`app`, whose lifespan runs once, from the first startup until `close()`.

    The lifespan messages the server sends are answered here: the first startup starts the
    app's lifespan in a task of the server's event loop, shutdowns leave it running.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._start()
                except Exception as error:
                    await send({"type": "lifespan.startup.failed", "message": repr(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self) -> None:
        if self._task is not None:
            if self._task.done():
                self._task.result()  # raise why it stopped
            return
        self._loop = asyncio.get_running_loop()
        started = asyncio.Event()

        async def run() -> None:
            try:
                async with self.app.router.lifespan_context(self.app):
                    started.set()
                    await self._stop.wait()
            finally:
                self._stopped.set()

        self._task = asyncio.create_task(run())
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait({self._task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if self._task.done():
            self._task.result()

    def close(self, timeout: float = 60.0) -> None:
        """End the app's lifespan (from any thread other than the server's)."""
        if self._loop is None or self._task is None:
            return
        self._loop.call_soon_threadsafe(self._stop.set)
        if not self._stopped.wait(timeout):
            raise TimeoutError("the gateway's lifespan did not end")


@pytest.fixture(scope="module")
def served_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedLifespan]:
    """The app for `case.call(app=...)`: started on the first call, stopped after the module."""
    app = SharedLifespan(sandboxed_gateway(tmp_path_factory.mktemp("openapi-sandbox")))
    try:
        yield app
    finally:
        app.close()
