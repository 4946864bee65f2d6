"""Benchmark: one thread's chat latency while other threads' code takes every CPU.

The embedded system (`python -m cie_embedded`, no model, code in a fence) on a fresh data
directory. First `print(1+1)` on a warm fifth thread, idle (--samples requests). Then
--busy threads each run a cell of four processes spinning for --spin seconds, all at once, and
while they spin the fifth thread's `print(1+1)` is timed again. The target: the fifth thread's
p50 within 2x its idle p50 (issue 11: with four run slots and no CPU shares it waited 28-53 s).

Sessions share the CPU through their cgroups where the host gives them (the start-up log and
/readyz say so); --no-cgroups turns them off (CIE_SANDBOX_SESSION_MEMORY_MB=0) and
--concurrency sets CIE_RUN_CONCURRENCY, to compare with the old defaults (4).

    make bench-contention ARGS='--spin 30 --busy 4 --samples 20'
"""

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.e2e.processes import Service, free_port, running, service_env, wait_until_http_ready

SPIN = """
import multiprocessing as mp, time
def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
with mp.get_context("fork").Pool(4) as workers:
    workers.map(spin, [{seconds}] * 4)
print("spun")
"""
PRINT = "print(1+1)"
READY_TIMEOUT_S = 120.0


def chat(http: httpx.Client, code: str, thread_id: str | None = None) -> tuple[float, str]:
    """Seconds for POST /api/chat with `code` fenced, and the thread id."""
    body: dict[str, str] = {"message": f"```python\n{code}\n```"}
    if thread_id is not None:
        body["thread_id"] = thread_id
    start = time.perf_counter()
    response = http.post("/api/chat", json=body)
    seconds = time.perf_counter() - start
    assert response.status_code == 200, response.text
    answer = response.json()
    return seconds, str(answer["thread_id"])


def latencies(http: httpx.Client, thread_id: str, samples: int, pause: float) -> list[float]:
    """`samples` timed print(1+1) chats on `thread_id`, `pause` seconds apart."""
    found = []
    for _ in range(samples):
        found.append(chat(http, PRINT, thread_id)[0])
        time.sleep(pause)
    return found


def describe(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p50 = statistics.median(ordered)
    return f"p50 {p50 * 1000:8.1f} ms  max {ordered[-1] * 1000:8.1f} ms  (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spin", type=float, default=30.0, help="seconds each busy cell spins")
    parser.add_argument("--busy", type=int, default=4, help="threads spinning at once")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=None, help="CIE_RUN_CONCURRENCY")
    parser.add_argument("--no-cgroups", action="store_true")
    args = parser.parse_args()
    extra = {"CIE_LOG_LEVEL": "WARNING", "CIE_SANDBOX_WARM_POOL": str(args.busy + 1)}
    if args.concurrency is not None:
        extra["CIE_RUN_CONCURRENCY"] = str(args.concurrency)
    if args.no_cgroups:
        extra["CIE_SANDBOX_SESSION_MEMORY_MB"] = "0"
    with tempfile.TemporaryDirectory(prefix="bench-contention-") as tmp:
        port = free_port()
        env = service_env({"CIE_DATA_DIR": f"{tmp}/data", "PORT": str(port), **extra})
        with running({"embedded": Service("embedded", "cie_embedded", env, Path(tmp))}) as procs:
            base = f"http://127.0.0.1:{port}"
            wait_until_http_ready(f"{base}/readyz", list(procs.values()), READY_TIMEOUT_S)
            with httpx.Client(base_url=base, timeout=args.spin * 4 + 60) as http:
                sandbox = http.get("/readyz").json()
                print(f"readiness: {sandbox}")
                threads = [chat(http, PRINT)[1] for _ in range(args.busy + 1)]
                probe, busy = threads[0], threads[1:]
                idle = latencies(http, probe, args.samples, 0.05)
                print(f"idle:      {describe(idle)}")
                spinning = [
                    threading.Thread(
                        target=chat,
                        args=(
                            httpx.Client(base_url=base, timeout=args.spin * 4 + 60),
                            SPIN.format(seconds=args.spin),
                            thread_id,
                        ),
                    )
                    for thread_id in busy
                ]
                started = time.perf_counter()
                for spinner in spinning:
                    spinner.start()
                time.sleep(min(2.0, args.spin / 4))  # every spinner has started
                pause = max(0.05, (args.spin * 0.6) / args.samples)
                contended = latencies(http, probe, args.samples, pause)
                print(f"contended: {describe(contended)}  ({args.busy} threads x 4 processes)")
                for spinner in spinning:
                    spinner.join()
                print(f"the spinning cells took {time.perf_counter() - started:.1f} s")
                for name, figure in (("p50", statistics.median), ("max", max)):
                    ratio = figure(contended) / figure(idle)
                    verdict = "OK" if ratio <= 2 else "over"
                    print(f"contended / idle {name}: {ratio:.2f}x (target <= 2x: {verdict})")


if __name__ == "__main__":
    main()
