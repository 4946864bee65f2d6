"""Helpers for long-running service processes."""

import asyncio
import gc
import signal


async def wait_for_shutdown() -> None:
    """Return when the process gets SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def settle_start_up_objects() -> None:
    """Move everything allocated so far out of the garbage collector's reach (gc.freeze).

    A service imports and builds thousands of long-lived objects (modules, classes, pools,
    compiled queries) and then churns through short-lived ones (events, JSON). Without this,
    every full collection walks all the long-lived ones again: a catch-up read spent about a
    third of its time there (tests/benchmarks/bench_event_store.py). Call once, after start-up.
    """
    gc.collect()
    gc.freeze()
