"""run-service over the bus: runs of different threads overlap up to the configured concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from runs_support import new_thread, request_run

from eventkit.bus_memory import InMemoryEventBus
from eventkit.partitions import InMemoryLeases
from eventkit.store_memory import InMemoryEventStore
from run_service.bootstrap import Deps, running
from run_service.runs.engines import Engines
from run_service.runs.files import InMemoryFileStore
from run_service.sandbox import SessionPool

SLEEP = "```python\nimport time\ntime.sleep(0.8)\nprint('done')\n```"


def _deps(
    store: InMemoryEventStore, bus: InMemoryEventBus, pool: SessionPool, **options: Any
) -> Deps:
    """run-service's dependencies, in memory but for the real sandbox pool."""
    return Deps(
        store=store, events=bus, files=InMemoryFileStore(), pool=pool, engines=Engines(), **options
    )


async def positions_when_done(
    store: InMemoryEventStore, threads: list[str]
) -> dict[tuple[str, str], int]:
    """(thread, event type) -> global position, once every thread's run completed."""
    async with asyncio.timeout(60):
        while True:
            seen = {
                (thread, event.event_type): event.global_position
                for thread in threads
                for event in await store.read_stream(thread)
            }
            if all((thread, "run.completed") in seen for thread in threads):
                return seen
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_runs_of_two_threads_overlap_only_when_concurrency_allows(
    pool: SessionPool, concurrency: int
) -> None:
    store, bus = InMemoryEventStore(), InMemoryEventBus()
    deps = _deps(store, bus, pool, run_concurrency=concurrency)
    threads = [await new_thread(store), await new_thread(store)]
    requests = [await request_run(store, thread, SLEEP) for thread in threads]
    try:
        async with running(deps):
            await bus.publish(requests)
            seen = await positions_when_done(store, threads)
    finally:
        await bus.close()

    first, second = sorted(threads, key=lambda t: seen[(t, "run.started")])
    overlapped = seen[(second, "run.started")] < seen[(first, "run.completed")]
    assert overlapped is (concurrency == 2)


async def test_sessions_survive_leases_lost_and_taken_back(pool: SessionPool) -> None:
    # Issue 12: a database blip lost the partition leases and every thread lost its variables.
    store, bus, leases = InMemoryEventStore(), InMemoryEventBus(), InMemoryLeases()
    deps = _deps(store, bus, pool, leases=leases, rebalance_interval_s=0.05)
    thread = await new_thread(store)
    try:
        async with running(deps):
            await bus.publish([await request_run(store, thread, "```python\nv = 'kept'\n```")])
            await positions_when_done(store, [thread])
            leases.leave()  # the leases' connection died
            await _until(lambda: deps.partitions.problem is not None)
            leases.rejoin()  # and came back: this replica takes its partitions again
            await _until(lambda: len(leases.held) > 0 and deps.partitions.problem is None)
            ask = "```python\nprint(globals().get('v'))\n```"
            await bus.publish([await request_run(store, thread, ask)])
            await _until_runs_completed(store, thread, 2)
    finally:
        await bus.close()
    outputs = [
        e.data["stdout"]
        for e in await store.read_stream(thread)
        if e.event_type == "run.code_executed"
    ]
    assert outputs[-1] == "kept\n"


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not condition():
            await asyncio.sleep(0.02)


async def _until_runs_completed(store: InMemoryEventStore, thread: str, count: int) -> None:
    async with asyncio.timeout(60):
        while True:
            events = await store.read_stream(thread)
            if sum(e.event_type == "run.completed" for e in events) >= count:
                return
            await asyncio.sleep(0.05)
