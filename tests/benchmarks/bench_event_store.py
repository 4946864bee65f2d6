"""Throughput of the PostgreSQL event store: appends (single and batched) and catch-up reads.

    make bench-event_store ARGS='--seconds 5'

Uses the server at $CIE_BENCH_POSTGRES_URL (default: local, user postgres) and creates, then
drops, its own database. Figures depend on the machine: compare runs, not absolutes.
"""

import argparse
import asyncio
import gc
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.migrate import upgrade_event_store
from eventkit.process import settle_start_up_objects
from eventkit.sql import create_engine
from eventkit.store import NO_STREAM, NewEvent
from eventkit.store_postgres import PostgresEventStore

BENCH_URL_ENV = "CIE_BENCH_POSTGRES_URL"
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CATEGORIES = ("thread", "run", "file")

# About 330 bytes of JSON, like a chat message event.
PAYLOAD = {
    "thread_id": "thread_" + "a" * 32,
    "message_id": "msg_" + "b" * 32,
    "role": "user",
    "content": "Plot the monthly totals from the attached CSV and explain the outliers. " * 2,
    "created_at": 1_764_000_000,
    "attachments": [],
}
META = {"correlation_id": str(uuid.UUID(int=1)), "producer": "bench/1"}


def new_events(count: int) -> list[NewEvent]:
    """`count` fresh events with the benchmark payload."""
    # Random v4 ids from `random`: uuid4() reads os.urandom, which would cost more than the
    # append of a 100-event batch spends in the store itself.
    return [
        NewEvent(uuid.UUID(int=random.getrandbits(128), version=4), "msg.posted", PAYLOAD, META)
        for _ in range(count)
    ]


async def run_writers(
    writers: int, seconds: float, append: Callable[[int], Awaitable[int]]
) -> tuple[int, float]:
    """Run `append(writer)` in `writers` loops for `seconds`; return (events, elapsed)."""
    deadline = time.perf_counter() + seconds
    counts = [0] * writers

    async def loop(writer: int) -> None:
        while time.perf_counter() < deadline:
            counts[writer] += await append(writer)

    started = time.perf_counter()
    await asyncio.gather(*(loop(writer) for writer in range(writers)))
    return sum(counts), time.perf_counter() - started


async def bench_appends(
    store: PostgresEventStore, writers: int, batch: int, seconds: float
) -> tuple[int, float]:
    """Appends of `batch` events per call, each writer on its own streams with version checks."""
    streams = [f"{CATEGORIES[w % len(CATEGORIES)]}_{uuid.uuid4().hex}" for w in range(writers)]
    versions = [NO_STREAM] * writers

    async def append(writer: int) -> int:
        result = await store.append(
            streams[writer], new_events(batch), expected_version=versions[writer]
        )
        versions[writer] = result.stream_version
        return batch

    return await run_writers(writers, seconds, append)


async def bench_catch_up(store: PostgresEventStore, page: int) -> tuple[int, float]:
    """Read the whole log from position 0 in pages of `page` events."""
    seen, last = 0, 0
    started = time.perf_counter()
    while events := await store.read_all(after_position=last, limit=page):
        seen += len(events)
        last = events[-1].global_position
    return seen, time.perf_counter() - started


def report(name: str, target: float, events: int, elapsed: float) -> None:
    """Print one figure, against its target if it has one."""
    rate = events / elapsed
    verdict = "" if not target else f"target {target:,.0f}: {'ok' if rate >= target else 'MISSED'}"
    print(f"{name:<40} {rate:>9,.0f} ev/s  {events:>9,} ev in {elapsed:5.2f} s  {verdict}")


async def run(engine: AsyncEngine, seconds: float) -> None:
    """All figures, on a migrated database."""
    store = PostgresEventStore(engine)
    await bench_appends(store, 16, 1, 1.0)  # warm the pool and the statement caches
    settle_start_up_objects()  # as every service process does once it has started
    appends = [
        (16, 1, 3_000),
        (1, 1, 0),
        (32, 1, 0),
        (1, 100, 40_000),
        (4, 100, 40_000),
        (8, 100, 40_000),
    ]
    for writers, batch, target in appends:
        name = f"append {batch} ev/call, {writers} writers"
        report(name, target, *await bench_appends(store, writers, batch, seconds))
    report("catch-up read_all, pages of 1,000", 100_000, *await bench_catch_up(store, 1_000))
    # The same with the cyclic garbage collector paused: how much of the above is the
    # interpreter's GC walking the freshly decoded events rather than the store's own work.
    gc.disable()
    try:
        report("  same, GC paused (for comparison)", 0, *await bench_catch_up(store, 1_000))
    finally:
        gc.enable()


async def main() -> None:
    """Create a scratch database, run the benchmark on it, drop it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each append run")
    args = parser.parse_args()
    admin_url = os.environ.get(BENCH_URL_ENV, DEFAULT_URL)
    name = f"cie_bench_{uuid.uuid4().hex[:12]}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            await upgrade_event_store(url)
            engine = create_engine(url)
            try:
                await run(engine, args.seconds)
            finally:
                await engine.dispose()
        finally:
            async with admin.connect() as connection:
                await connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
