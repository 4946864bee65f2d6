"""The composition root: builds the app around whichever adapters it is given."""

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from contracts.envelope import Envelope
from contracts.routing import GATEWAY_PROJECTIONS_QUEUE, THREAD_EVENT_KEYS
from eventkit.bus import CommandBus, EventBus, EventHandler
from eventkit.ops.checks import store_check
from eventkit.ops.probes import Check
from eventkit.store import EventStore
from eventkit.store_notify import CommitSignals
from gateway.commands import ThreadCommands
from gateway.conversations import Conversations
from gateway.files import FileServiceClient
from gateway.projections.messages import MessagesView
from gateway.projections.projector import MessagesProjector
from gateway.runs import RunWaiter
from gateway.settings import GatewaySettings


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class GatewayDeps:
    """Everything the gateway needs from outside."""

    store: EventStore
    events: EventBus
    commands: CommandBus
    view: MessagesView
    files: FileServiceClient
    clock: Callable[[], datetime] = utc_now
    command_timeout_s: float = 10.0
    run_timeout_s: float = 900.0
    projection_prefetch: int = 100
    checks: Mapping[str, Check] = field(default_factory=dict)  # readiness, beside the store
    commits: CommitSignals | None = None  # commit signals, when this process gets them


@dataclass(frozen=True)
class Wired:
    """The gateway's parts once wired, as the routes use them."""

    store: EventStore
    view: MessagesView
    projector: MessagesProjector
    commands: ThreadCommands
    files: FileServiceClient
    conversations: Conversations
    checks: Mapping[str, Check]


async def wire(deps: GatewayDeps) -> Wired:
    """Build the use cases and subscribe the projector and run waiters to thread events."""
    projector = MessagesProjector(deps.store, deps.view)
    waiter = RunWaiter(deps.store)
    handler: EventHandler = projector.on_event
    if deps.commits is not None:  # see a run's end at commit, not after relay and bus
        deps.commits.subscribe(waiter.wake_all)
    else:  # no commit signals here: the bus tells the waiters too
        handler = _projecting_and_waking(projector, waiter)
    await deps.events.subscribe(
        GATEWAY_PROJECTIONS_QUEUE, THREAD_EVENT_KEYS, handler, prefetch=deps.projection_prefetch
    )
    commands = ThreadCommands(deps.commands, projector, deps.clock, timeout=deps.command_timeout_s)
    conversations = Conversations(
        commands, waiter, projector, deps.files, run_timeout_s=deps.run_timeout_s
    )
    return Wired(
        store=deps.store,
        view=deps.view,
        projector=projector,
        commands=commands,
        files=deps.files,
        conversations=conversations,
        checks={"database": store_check(deps.store), **deps.checks},
    )


def _projecting_and_waking(projector: MessagesProjector, waiter: RunWaiter) -> EventHandler:
    async def handle(event: Envelope) -> None:
        await projector.on_event(event)
        waiter.on_event(event)

    return handle


@asynccontextmanager
async def real_deps(settings: GatewaySettings) -> AsyncIterator[GatewayDeps]:
    """SQL store and view plus RabbitMQ, from settings (distributed mode)."""
    from eventkit.bus_rabbit import RabbitBus
    from eventkit.pg_listen import commit_notifications
    from eventkit.sql import create_engine
    from eventkit.store_sql import sql_event_store
    from gateway.projections.messages_sql import SqlMessagesView

    engine = create_engine(settings.database_url)
    commits = CommitSignals()
    try:
        async with (
            RabbitBus.connect(settings.amqp_url) as bus,
            file_service_http(settings.file_service_url, settings.file_service_timeout_s) as files,
            commit_notifications(engine, settings.database_url, commits.fire),
        ):
            yield GatewayDeps(
                store=sql_event_store(engine),
                events=bus,
                commands=bus,
                view=SqlMessagesView(engine),
                files=files,
                command_timeout_s=settings.command_timeout_s,
                run_timeout_s=settings.run_timeout_s,
                projection_prefetch=settings.projection_prefetch,
                checks={"broker": bus.check, "file-service": files.check},
                commits=commits,
            )
    finally:
        await engine.dispose()


@asynccontextmanager
async def file_service_http(
    base_url: str, timeout_s: float, *, uds: str | None = None
) -> AsyncIterator[FileServiceClient]:
    """A client of file-service at `base_url` (over the Unix socket `uds` if given)."""
    from eventkit.http_client import service_client

    async with service_client(base_url, timeout_s, uds=uds) as http:
        yield FileServiceClient(http)
