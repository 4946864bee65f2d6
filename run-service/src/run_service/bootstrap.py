"""The composition root: wires run-service to whichever adapters it is given."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from contracts.routing import RUN_PARTITION_QUEUES, RUN_PARTITIONS, run_partition
from eventkit.bus import EventBus
from eventkit.ops.checks import store_check
from eventkit.ops.metrics import RUN_PARTITIONS_HELD, SANDBOX_SESSIONS
from eventkit.ops.probes import Check
from eventkit.partitions import (
    InMemoryLeases,
    PartitionBalancer,
    PartitionLeases,
    PartitionStatus,
)
from eventkit.store import EventStore
from run_service.engines import ModelSettings, NoModelEngine, engine_from_settings
from run_service.engines.health import model_check
from run_service.runs.engines import Engines
from run_service.runs.files import FileStore
from run_service.runs.processor import RunProcessor
from run_service.sandbox import SandboxLimits, SessionPool, UnavailableSandbox, default_sandbox
from run_service.settings import RunServiceSettings

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    """Everything run-service needs from outside."""

    store: EventStore
    events: EventBus
    files: FileStore
    pool: SessionPool
    engines: Engines
    clock: Callable[[], datetime] = utc_now
    run_concurrency: int = 16
    run_timeout_s: float = 900.0
    # Which run partitions this replica consumes; alone (the default), all of them.
    leases: PartitionLeases = field(default_factory=InMemoryLeases)
    rebalance_interval_s: float = 1.0
    partitions: PartitionStatus = field(default_factory=PartitionStatus)  # what running() saw
    checks: Mapping[str, Check] = field(default_factory=dict)  # readiness, beside the store

    def readiness(self) -> dict[str, Check]:
        """Every readiness check of the service: store, broker, sandbox capacity, partitions."""
        return {
            "database": store_check(self.store),
            "sandbox": sandbox_check(self.pool),
            "model": self.engines.check,
            "partitions": partitions_check(self.partitions, self.rebalance_interval_s),
            **self.checks,
        }


def sandbox_check(pool: SessionPool) -> Check:
    """Ready while a session can be had: a warm one, or room to start one."""

    async def check() -> str:
        live, warm, cap = pool.live_count, pool.warm_count, pool.limits.max_sessions
        if isinstance(pool.sandbox, UnavailableSandbox):
            raise RuntimeError(f"no code can run: {pool.sandbox.reason}")
        summary = f"{pool.sandbox.isolation_level()}; {warm} warm, {live}/{cap} live"
        if warm == 0 and live >= cap:
            raise RuntimeError(f"no sandbox capacity: {summary}")
        if warm == 0 and pool.start_failure is not None:
            raise RuntimeError(f"sessions cannot start ({pool.start_failure}): {summary}")
        return summary

    return check


def partitions_check(status: PartitionStatus, interval_s: float) -> Check:
    """Ready while partition balancing works (holding partitions or not): the last round
    succeeded, and recently. Reads what the balancer saw; never queries on its own."""

    async def check() -> str:
        stale = max(5 * interval_s, 10.0)
        if status.problem is not None:
            raise RuntimeError(f"{status.problem}; {status.summary()}")
        if status.balanced_at is None or time.monotonic() - status.balanced_at > stale:
            raise RuntimeError(f"no balancing round in {stale:g} s; {status.summary()}")
        return status.summary()

    return check


def engines_from(model: ModelSettings) -> Engines:
    """The configured model, if any, beside the built-in programs."""
    engine = engine_from_settings(model)
    if isinstance(engine, NoModelEngine):
        return Engines()
    return Engines(model=engine, model_name=model.name, check=model_check(model))


@asynccontextmanager
async def session_pool(
    root: Path, limits: SandboxLimits, isolation: str = "bubblewrap", bwrap_exe: str = ""
) -> AsyncIterator[SessionPool]:
    """A pool of sandboxed sessions under `root`, its warm sessions starting in the
    background: bubblewrap (or, only if `isolation` is "none", rlimits only)."""
    await asyncio.to_thread(_prepare_root, root)
    sandbox = await asyncio.to_thread(default_sandbox, limits, isolation, bwrap_exe)
    log.info("sandbox isolation in force: %s", sandbox.isolation_level())
    pool = SessionPool(sandbox, root)
    SANDBOX_SESSIONS.labels("live").set_function(lambda: pool.live_count)
    SANDBOX_SESSIONS.labels("warm").set_function(lambda: pool.warm_count)
    await pool.start()
    try:
        yield pool
    finally:
        await pool.close()


def _prepare_root(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o711)  # per-session uids must traverse to their own directory


@asynccontextmanager
async def running(deps: Deps) -> AsyncIterator[RunProcessor]:
    """Take run requests while the block runs; yields the use case (for embedding and tests).

    This replica consumes the partition queues it leases, rebalanced every
    `rebalance_interval_s` as replicas come and go. Leaving the block stops rebalancing; the
    bus's close stops the consumers (letting runs in progress finish).
    """
    processor = RunProcessor(
        deps.store,
        deps.pool,
        deps.files,
        deps.engines,
        deps.clock,
        run_timeout_s=deps.run_timeout_s,
        concurrency=deps.run_concurrency,
    )

    async def take(partition: int) -> None:
        queue = RUN_PARTITION_QUEUES[partition]  # as the relay declares it
        await deps.events.subscribe(
            queue.name,
            queue.binding_keys,
            processor.on_event,
            prefetch=deps.run_concurrency,
            single_active=queue.single_active,
        )

    async def give_back(partition: int, lost: bool) -> None:
        # Runs in progress finish before the partition (and its threads) move, unless the
        # lease is already gone: then another replica may own the threads by now, so stop.
        grace = 0.0 if lost else deps.run_timeout_s
        await deps.events.unsubscribe(RUN_PARTITION_QUEUES[partition].name, grace=grace)
        if not lost:
            # Handed to another replica: its threads' sessions here would only take memory.
            await deps.pool.close_sessions(lambda thread_id: run_partition(thread_id) == partition)
        # A lease lost with its connection (a database blip) keeps them: this replica most
        # likely takes the partition again, and a run of a thread whose code ran elsewhere
        # meanwhile gets a fresh session then (`SessionPool.align`).

    balancer = PartitionBalancer(
        deps.leases,
        RUN_PARTITIONS,
        take,
        give_back,
        interval_s=deps.rebalance_interval_s,
        status=deps.partitions,
    )
    RUN_PARTITIONS_HELD.set_function(lambda: len(balancer.taken))
    await balancer.balance()
    balancing = asyncio.create_task(balancer.run())
    try:
        yield processor
    finally:
        balancing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await balancing


@asynccontextmanager
async def real_deps(settings: RunServiceSettings) -> AsyncIterator[Deps]:
    """SQL store, RabbitMQ, file-service over HTTP, a sandbox pool and partition leases."""
    from eventkit.bus_rabbit import RabbitBus
    from eventkit.sql import create_engine
    from eventkit.store_sql import sql_event_store
    from run_service.runs.files_http import http_file_store

    engine = create_engine(settings.database_url)
    try:
        # Closed in reverse: the bus first, which waits for runs in progress (up to the
        # shutdown grace), then the leases (only then may another replica take the
        # partitions), file-service's client and the sandbox the runs still needed.
        async with (
            session_pool(
                settings.sandbox_dir.resolve(),
                settings.sandbox_limits(),
                settings.sandbox_isolation,
                settings.sandbox_bwrap,
            ) as pool,
            http_file_store(settings.file_service_url, settings.file_service_timeout_s) as files,
            partition_leases(settings) as leases,
            RabbitBus.connect(settings.amqp_url, shutdown_grace=settings.shutdown_grace_s) as bus,
        ):
            yield Deps(
                store=sql_event_store(engine),
                events=bus,
                files=files,
                pool=pool,
                engines=engines_from(ModelSettings()),
                run_concurrency=settings.run_concurrency,
                run_timeout_s=settings.run_timeout_s,
                leases=leases,
                rebalance_interval_s=settings.rebalance_interval_s,
                checks={"broker": bus.check},
            )
    finally:
        await engine.dispose()


@asynccontextmanager
async def partition_leases(settings: RunServiceSettings) -> AsyncIterator[PartitionLeases]:
    """Leases shared through PostgreSQL by the replicas on one RabbitMQ virtual host; on
    another database (SQLite: one process) this replica has every partition to itself."""
    if not settings.database_url.startswith("postgresql"):
        yield InMemoryLeases()
        return
    from eventkit.partitions_postgres import PostgresLeases

    group = f"run-service@{urlsplit(settings.amqp_url).path or '/'}"
    async with PostgresLeases.joined(settings.database_url, group) as leases:
        yield leases
