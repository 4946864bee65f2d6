"""Wires every service of the embedded system around one store and the in-memory buses."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cie_embedded.unix_server import serve_on_unix_socket
from contracts.routing import RUN_PARTITION_QUEUES
from eventkit.bus_memory import InMemoryCommandBus, InMemoryEventBus
from eventkit.relay import Relay
from eventkit.store import CheckpointStore, EventStore
from eventkit.store_memory import InMemoryCheckpointStore, InMemoryEventStore
from eventkit.store_notify import CommitSignals, NotifyingEventStore
from file_service import bootstrap as file_service
from file_service.app import create_app as create_file_service_app
from file_service.settings import DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_STORAGE_LIMIT_BYTES
from gateway.bootstrap import GatewayDeps, file_service_http
from gateway.projections.messages import MessagesView
from gateway.projections.messages_memory import InMemoryMessagesView
from run_service import bootstrap as run_service
from run_service.runs.engines import Engines
from run_service.runs.files_http import http_file_store
from run_service.sandbox import SessionPool
from thread_service import bootstrap as thread_service

RELAY_POLL_S = 0.5  # a fallback: every append wakes the relay at once
RELAY_CHECKPOINT_EVERY_S = 0.5
FILE_SERVICE_TIMEOUT_S = 60.0
FILE_SERVICE_URL = "http://file-service"


@dataclass(frozen=True)
class RunsConfig:
    """What the embedded run-service runs on: a started session pool and the engines."""

    pool: SessionPool
    engines: Engines = field(default_factory=Engines)
    concurrency: int = 4
    run_timeout_s: float = 900.0


FileServiceDepsFactory = Callable[[], AbstractAsyncContextManager[file_service.FileServiceDeps]]


@asynccontextmanager
async def embedded_system(
    store: EventStore,
    checkpoints: CheckpointStore,
    view: MessagesView,
    file_service_deps: FileServiceDepsFactory,
    runs: RunsConfig,
) -> AsyncIterator[GatewayDeps]:
    """Start thread-, run- and file-service and the relay here; yield what the gateway needs."""
    events = InMemoryEventBus()
    commands = InMemoryCommandBus()
    relay = Relay(
        store,
        events,
        checkpoints,
        checkpoint_every_s=RELAY_CHECKPOINT_EVERY_S,
        queues=RUN_PARTITION_QUEUES,
    )
    commits = CommitSignals()
    commits.subscribe(relay.wake)
    store = NotifyingEventStore(store, commits.fire)
    await thread_service.start(thread_service.Deps(store=store, commands=commands))
    relaying = asyncio.create_task(relay.run(poll_interval=RELAY_POLL_S))
    files_app = create_file_service_app(file_service_deps)
    try:
        async with (
            serve_on_unix_socket(files_app, "file-service") as socket,
            file_service_http(FILE_SERVICE_URL, FILE_SERVICE_TIMEOUT_S, uds=socket) as files,
            http_file_store(FILE_SERVICE_URL, FILE_SERVICE_TIMEOUT_S, uds=socket) as run_files,
            run_service.running(
                run_service.Deps(
                    store=store,
                    events=events,
                    files=run_files,
                    pool=runs.pool,
                    engines=runs.engines,
                    run_concurrency=runs.concurrency,
                    run_timeout_s=runs.run_timeout_s,
                )
            ),
        ):
            yield GatewayDeps(
                store=store,
                events=events,
                commands=commands,
                view=view,
                files=files,
                run_timeout_s=runs.run_timeout_s,
                checks={
                    "sandbox": run_service.sandbox_check(runs.pool),
                    "model": runs.engines.check,
                },
                commits=commits,
            )
    finally:
        relaying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relaying
        await events.close()


@asynccontextmanager
async def in_memory_system(
    runs: RunsConfig,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    storage_limit_bytes: int = DEFAULT_STORAGE_LIMIT_BYTES,
) -> AsyncIterator[GatewayDeps]:
    """Everything in memory but the sandbox's files: nothing survives the process (tests)."""
    store = InMemoryEventStore()

    @asynccontextmanager
    async def files() -> AsyncIterator[file_service.FileServiceDeps]:
        async with file_service.in_memory_deps(
            max_upload_bytes=max_upload_bytes, storage_limit_bytes=storage_limit_bytes
        ) as deps:
            # One store for the whole system, as in every other mode.
            yield file_service.FileServiceDeps(
                store=store,
                blobs=deps.blobs,
                view=deps.view,
                max_upload_bytes=max_upload_bytes,
                storage_limit_bytes=storage_limit_bytes,
            )

    async with embedded_system(
        store, InMemoryCheckpointStore(), InMemoryMessagesView(), files, runs
    ) as deps:
        yield deps


@asynccontextmanager
async def sqlite_system(
    data_dir: Path,
    runs: RunsConfig,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    storage_limit_bytes: int = DEFAULT_STORAGE_LIMIT_BYTES,
) -> AsyncIterator[GatewayDeps]:
    """Events, read models and blobs under `data_dir` (an absolute path): survives restarts."""
    from eventkit.sql import create_engine
    from eventkit.store_sql import SqlCheckpointStore, sql_event_store
    from file_service.blobs_local import LocalBlobStore
    from file_service.migrate import upgrade_all as upgrade_file_service
    from file_service.view_sql import SqlFileView
    from gateway.migrate import upgrade_all as upgrade_gateway
    from gateway.projections.messages_sql import SqlMessagesView

    url = f"sqlite+aiosqlite:///{data_dir / 'cie.db'}"
    await upgrade_gateway(url)
    await upgrade_file_service(url)
    engine = create_engine(url)
    store = sql_event_store(engine)

    @asynccontextmanager
    async def files() -> AsyncIterator[file_service.FileServiceDeps]:
        blobs = LocalBlobStore(data_dir / "blobs")
        await asyncio.to_thread(blobs.sweep_temp)
        yield file_service.FileServiceDeps(
            store=store,
            blobs=blobs,
            view=SqlFileView(engine),
            max_upload_bytes=max_upload_bytes,
            storage_limit_bytes=storage_limit_bytes,
        )

    try:
        async with embedded_system(
            store, SqlCheckpointStore(engine), SqlMessagesView(engine), files, runs
        ) as deps:
            yield deps
    finally:
        await engine.dispose()
