"""Benchmark: POST /api/chat end to end, embedded and distributed mode, no model configured.

With no model the code in the message's ```python fence runs as written in the thread's
sandbox. Measured through the gateway, over keep-alive, until the response arrives:

- `print(1+1)` on a warm thread: the samples rotate over WARM_THREADS threads, each used once
  with each kind of cell before, so none grows long; then once more on a thread padded to
  LONG_THREAD_RUNS runs, since each run reads its thread's whole stream;
- the first execution on a new thread (no thread_id), claiming a session of the warm pool.
  The pool (CIE_SANDBOX_WARM_POOL, 2 by default) refills in the background, about 2 s per
  session on 2 cores (more under load), so before every sample we wait at least --pace
  seconds and until the sandbox processes (children of run-service) have used no CPU for
  QUIET_S: a warm session being started is busy importing numpy, pandas and matplotlib;
- a cell plotting 1,000 points (bench_sandbox.PLOT, figure left open: the sandbox saves it as
  PNG), on the same warm threads, then the PNG downloaded and checked for the PNG signature
  (timed separately).

Beside each, the floor: the same code in a bare local Python process, a persistent interpreter
(numpy, pandas and matplotlib preloaded, as in the sandbox) driven over a pipe; for the new
thread, starting a fresh `python -c "print(1+1)"`. Then, where the time goes: the medians of
the gaps between the client's send, the `time` of the run's events (GET
/api/thread/{id}/events) and the response.

Distributed mode: gateway, thread-, run- and file-service and relay as processes, a fresh
PostgreSQL database (dropped afterwards) and a fresh RabbitMQ vhost when rabbitmqctl can make
one (else the URL's vhost). Embedded mode: `python -m cie_embedded` (SQLite, in-memory bus).

    make bench-chat ARGS='--mode embedded|distributed|both'
        [--samples 50] [--new-threads 20] [--pace 1.0]

Targets (p50): print(1+1) on a warm thread <= 10 ms embedded, <= 25 ms distributed; first
execution on a new thread <= 150 ms; plot cell <= 300 ms. An idle session's RSS is measured by
bench_sandbox.py.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_file_service import cpu_seconds
from tests.benchmarks.bench_sandbox import PLOT
from tests.benchmarks.distributed import READY_TIMEOUT_S, distributed_system
from tests.benchmarks.process_tree import descendants
from tests.e2e.processes import (
    Service,
    free_port,
    running,
    service_env,
    wait_until_http_ready,
)

PRINT = "print(1+1)"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WARMUP = 5  # cells of each kind the floor's interpreter runs before measuring
QUIET_S = 0.5  # the sandbox has settled (warm pool refilled) after this long without CPU use
SETTLE_TIMEOUT_S = 60.0
SERVERS = {"postgres": "PostgreSQL", "beam.smp": "RabbitMQ"}  # by /proc/<pid>/comm
STAGES = ("run.requested", "run.started", "run.code_executed", "run.completed")

WARM_THREADS = 10  # the warm samples rotate over these threads, each used once before
LONG_THREAD_RUNS = 100  # then one is padded to this many runs and timed again

PRINT_WARM = "print(1+1), warm thread"
PRINT_LONG = f"print(1+1), {LONG_THREAD_RUNS}-run thread"
FIRST_EXEC = "first exec, new thread"
PLOT_CELL = "plot 1,000 pts -> response"
PLOT_DOWNLOAD = "  + PNG download"
TARGETS_MS = {
    ("embedded", PRINT_WARM): 10.0,
    ("distributed", PRINT_WARM): 25.0,
    ("embedded", FIRST_EXEC): 150.0,
    ("distributed", FIRST_EXEC): 150.0,
    ("embedded", PLOT_CELL): 300.0,
    ("distributed", PLOT_CELL): 300.0,
}

# A bare, persistent local interpreter: JSON lines in (code), JSON lines out. Open figures are
# saved as PNG in the cwd and read back, as the sandbox's worker and run-service do.
FLOOR_WORKER = """
import contextlib, io, json, sys
import numpy, pandas, matplotlib.pyplot as plt
namespace = {}
reply = sys.stdout
for count, line in enumerate(sys.stdin):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(json.loads(line), "<cell>", "exec"), namespace)
    heads = []
    for i, num in enumerate(plt.get_fignums()):
        name = f"figure_{count}_{i}.png"
        plt.figure(num).savefig(name, format="png")
        with open(name, "rb") as png:
            heads.append(png.read()[:8].hex())
    plt.close("all")
    reply.write(json.dumps({"stdout": out.getvalue(), "pngs": heads}) + "\\n")
    reply.flush()
"""


@dataclass
class Sample:
    """One timed request: its wall-clock send and receive, and the run it made."""

    sent: float
    received: float
    thread_id: str
    run_id: str
    seconds: float


@dataclass
class Figures:
    """A mode's samples per figure, in seconds, and the requests behind the gateway figures."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    requests: dict[str, list[Sample]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def fenced(code: str) -> str:
    """A chat message whose code runs as written when no model is configured."""
    return f"```python\n{code}\n```"


def quantiles_ms(seconds: list[float]) -> tuple[float, float, float]:
    """p50, p90, p99 in milliseconds."""
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[89] * 1000, cuts[98] * 1000


# --- floors -------------------------------------------------------------------------------


class FloorWorker:
    """A local Python process, started once, that executes cells sent over a pipe."""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", FLOOR_WORKER],
            cwd=cwd,
            env=service_env({"MPLBACKEND": "Agg"}),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def execute(self, code: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(code) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the floor worker died"
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def floors(samples: int, new_threads: int) -> dict[str, list[float]]:
    """The same code run locally, without sandbox, bus or store."""
    results: dict[str, list[float]] = {PRINT_WARM: [], FIRST_EXEC: [], PLOT_CELL: []}
    with tempfile.TemporaryDirectory(prefix="bench-chat-floor-") as tmp:
        worker = FloorWorker(Path(tmp))
        try:
            for _ in range(WARMUP):
                worker.execute(PRINT)
                worker.execute(PLOT)
            for _ in range(samples):
                start = time.perf_counter()
                reply = worker.execute(PRINT)
                results[PRINT_WARM].append(time.perf_counter() - start)
                assert reply["stdout"] == "2\n", reply
            for _ in range(samples):
                start = time.perf_counter()
                reply = worker.execute(PLOT)
                results[PLOT_CELL].append(time.perf_counter() - start)
                assert reply["pngs"] == [PNG_SIGNATURE.hex()], reply
        finally:
            worker.close()
    for _ in range(new_threads):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", PRINT], capture_output=True, text=True, check=True
        )
        results[FIRST_EXEC].append(time.perf_counter() - start)
        assert done.stdout == "2\n", done
    return results


# --- through the gateway ------------------------------------------------------------------


def ask(http: httpx.Client, code: str, thread_id: str | None = None) -> tuple[Sample, Any]:
    """POST /api/chat with `code` fenced; the timed sample and the answer's body."""
    body: dict[str, str] = {"message": fenced(code)}
    if thread_id is not None:
        body["thread_id"] = thread_id
    sent, start = time.time(), time.perf_counter()
    response = http.post("/api/chat", json=body)
    seconds = time.perf_counter() - start
    received = time.time()
    assert response.status_code == 200, response.text
    answer = response.json()
    sample = Sample(sent, received, answer["thread_id"], answer["run_id"], seconds)
    return sample, answer


def download_png(http: httpx.Client, answer: Any) -> float:
    """Download the answer's one image and check its signature; the seconds it took."""
    (image,) = answer["files"]
    start = time.perf_counter()
    response = http.get(f"/api/file/{image['file_id']}")
    seconds = time.perf_counter() - start
    assert response.status_code == 200, response.text
    assert response.content.startswith(PNG_SIGNATURE), response.content[:16]
    return seconds


def cpu_ms(pids: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) so far of each process, this client and, in distributed mode,
    the local PostgreSQL and RabbitMQ servers (all their processes), in milliseconds."""
    used = {name: cpu_seconds(pid) * 1000 for name, pid in pids.items()}
    used["bench client"] = time.process_time() * 1000
    if "relay" in pids:
        used.update(dict.fromkeys(SERVERS.values(), 0.0))
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                server = SERVERS.get(Path(f"/proc/{pid}/comm").read_text().strip())
                if server is not None:
                    used[server] += cpu_seconds(int(pid)) * 1000
            except OSError:  # gone meanwhile
                continue
    return used


def sandbox_cpu(owner: int) -> dict[int, float]:
    """CPU seconds so far of every descendant of `owner`: run-service's sandbox processes."""
    used: dict[int, float] = {}
    for child in descendants(owner):
        try:
            used[child] = cpu_seconds(child)
        except OSError:  # gone meanwhile
            continue
    return used


def wait_until_sandbox_quiet(owner: int, least: float) -> float:
    """Wait `least` s, then until no sandbox process of `owner` used CPU (nor started or ended)
    for QUIET_S: a warm session being started imports numpy, pandas and matplotlib, so this is
    when the warm pool has refilled. The seconds waited."""
    start = time.perf_counter()
    time.sleep(least)
    before = sandbox_cpu(owner)
    while time.perf_counter() - start < SETTLE_TIMEOUT_S:
        time.sleep(QUIET_S)
        now = sandbox_cpu(owner)
        if now == before:
            break
        before = now
    return time.perf_counter() - start


def per_request(before: dict[str, float], count: int, pids: dict[str, int]) -> dict[str, float]:
    """CPU milliseconds per request of each process since `before`, over `count` requests."""
    return {name: (used - before[name]) / count for name, used in cpu_ms(pids).items()}


def measure(
    base: str, pids: dict[str, int], owner: int, samples: int, new_threads: int, pace: float
) -> Figures:
    """Warm up, let the warm pool refill, then time the kinds of chat.

    `pids` are the system's processes, `owner` the one whose children are the sandboxes."""
    figures = Figures()
    cpu: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base, timeout=120) as http:
        # Warm-up, untimed: each thread is used once with each kind of cell.
        threads = [ask(http, PRINT)[0].thread_id for _ in range(WARM_THREADS)]
        for thread_id in threads:
            download_png(http, ask(http, PLOT, thread_id)[1])
        settled = wait_until_sandbox_quiet(owner, pace)

        printed = []
        before = cpu_ms(pids)
        for i in range(samples):
            sample, answer = ask(http, PRINT, threads[i % WARM_THREADS])
            assert "2" in answer["message"], answer
            printed.append(sample)
        cpu[PRINT_WARM] = per_request(before, samples, pids)

        plotted, downloads = [], []
        before = cpu_ms(pids)
        for i in range(samples):
            sample, answer = ask(http, PLOT, threads[i % WARM_THREADS])
            plotted.append(sample)
            downloads.append(sample.seconds + download_png(http, answer))
        cpu[PLOT_CELL] = per_request(before, samples, pids)

        # Every run reads its thread's whole stream: the same cell on a long thread.
        long_thread = threads[0]
        runs = sum(e["type"] == "run.requested" for e in run_events(http, long_thread))
        for _ in range(LONG_THREAD_RUNS - runs):
            ask(http, PRINT, long_thread)
        long, count = [], max(2, samples // 5)
        before = cpu_ms(pids)
        for _ in range(count):
            long.append(ask(http, PRINT, long_thread)[0])
        cpu[PRINT_LONG] = per_request(before, count, pids)

        first, pauses = [], []
        for _ in range(new_threads):
            # the warm pool refills the session the last sample claimed
            pauses.append(wait_until_sandbox_quiet(owner, pace))
            sample, answer = ask(http, PRINT)
            assert "2" in answer["message"], answer
            first.append(sample)

        for name, taken in (
            (PRINT_WARM, printed),
            (PRINT_LONG, long),
            (FIRST_EXEC, first),
            (PLOT_CELL, plotted),
        ):
            figures.requests[name] = taken
            figures.seconds[name] = [s.seconds for s in taken]
        figures.seconds[PLOT_DOWNLOAD] = downloads
        figures.notes.append(where_time_goes(http, figures.requests))
    figures.notes.append(
        f"    paced: settled {settled:.1f} s after the warm-up; before each new thread waited "
        f"p50 {statistics.median(pauses):.1f} s, max {max(pauses):.1f} s; "
        f"{len(sandbox_cpu(owner))} sandbox processes at the end"
    )
    figures.notes.append(
        "    first exec samples, in order (ms): "
        + " ".join(f"{s.seconds * 1000:.0f}" for s in first)
    )
    figures.notes.append("    CPU ms per request (the sandbox's own processes not counted):")
    for name, used in cpu.items():
        shown = ", ".join(f"{proc} {ms:.1f}" for proc, ms in used.items())
        figures.notes.append(f"      {name}: {shown}")
    return figures


def run_events(http: httpx.Client, thread_id: str) -> list[dict[str, Any]]:
    """Every event of a thread, paging through GET /api/thread/{id}/events."""
    events: list[dict[str, Any]] = []
    version: int | None = 0
    while version is not None:
        page = http.get(
            f"/api/thread/{thread_id}/events", params={"from_version": version, "limit": 1000}
        ).json()
        events.extend(page["events"])
        version = page["next_from_version"]
    return events


def where_time_goes(http: httpx.Client, requests: dict[str, list[Sample]]) -> str:
    """Medians of the gaps send -> run.requested -> ... -> run.completed -> response."""
    threads = {s.thread_id for taken in requests.values() for s in taken}
    times: dict[str, dict[str, float]] = {}
    exec_ms: dict[str, float] = {}
    for thread_id in threads:
        for event in run_events(http, thread_id):
            run_id = event["payload"].get("run_id")
            if run_id is None or event["type"] not in STAGES:
                continue
            times.setdefault(run_id, {})[event["type"]] = datetime.fromisoformat(
                event["time"]
            ).timestamp()
            if event["type"] == "run.code_executed":
                exec_ms[run_id] = event["payload"]["duration_ms"]
    gaps = ["-> requested", "-> started", "-> executed", "-> completed", "-> response"]
    lines = [
        f"    {'median ms':28}" + "".join(f"{gap:>14}" for gap in gaps) + f"{'(in sandbox)':>14}"
    ]
    for name, taken in requests.items():
        columns: list[list[float]] = [[] for _ in gaps]
        inside = []
        for sample in taken:
            stamps = times[sample.run_id]
            points = [sample.sent, *(stamps[stage] for stage in STAGES), sample.received]
            for column, (a, b) in zip(columns, pairwise(points), strict=True):
                column.append((b - a) * 1000)
            inside.append(exec_ms[sample.run_id])
        lines.append(
            f"    {name:28}"
            + "".join(f"{statistics.median(column):14.1f}" for column in columns)
            + f"{statistics.median(inside):14.1f}"
        )
    return "\n".join(lines)


# --- the two ways to run ------------------------------------------------------------------


def embedded(args: argparse.Namespace) -> Figures:
    """`python -m cie_embedded`: one process, SQLite, the in-memory bus."""
    with tempfile.TemporaryDirectory(prefix="bench-chat-embedded-") as tmp:
        port = free_port()
        env = service_env(
            {"CIE_DATA_DIR": f"{tmp}/data", "PORT": str(port), "CIE_LOG_LEVEL": "WARNING"}
        )
        with running({"embedded": Service("embedded", "cie_embedded", env, Path(tmp))}) as procs:
            base = f"http://127.0.0.1:{port}"
            wait_until_http_ready(f"{base}/", list(procs.values()), READY_TIMEOUT_S)
            pid = procs["embedded"].process.pid
            return measure(base, {"embedded": pid}, pid, args.samples, args.new_threads, args.pace)


def distributed(args: argparse.Namespace) -> Figures:
    """gateway, thread-, run- and file-service and relay as processes; PostgreSQL, RabbitMQ."""
    with distributed_system("bench-chat-distributed-") as system:
        pids = {key: service.process.pid for key, service in system.services.items()}
        owner = pids["run-service"]
        figures = measure(system.base_url, pids, owner, args.samples, args.new_threads, args.pace)
        relay = re.findall(r"relay ready \([^)]*\)", system.services["relay"].log())
        figures.notes.insert(0, f"    relay: {relay[-1]}")
        figures.notes.insert(1, f"    RabbitMQ: {urlsplit(system.amqp_url).path or '/'}")
        return figures


# --- report -------------------------------------------------------------------------------


def report(
    results: dict[str, Figures], floor: dict[str, list[float]], args: argparse.Namespace
) -> None:
    print(
        f"POST /api/chat, no model; keep-alive, sequential; {args.samples} samples per figure, "
        f"{args.new_threads} new threads"
    )
    print(
        f"paced: after the warm-up ({WARM_THREADS} threads, each used once with each kind of "
        f"cell), and before each new thread, at "
        f"least {args.pace:.1f} s and until the sandbox processes used no CPU for {QUIET_S} s, "
        f"i.e. the warm pool (CIE_SANDBOX_WARM_POOL, default 2) has refilled"
    )
    header = (
        f"{'figure':28} {'mode':12} {'n':>3} {'p50':>9} {'p90':>9} {'p99':>9} "
        f"{'target p50':>12} {'floor p50':>10}"
    )
    print(header)
    print("-" * len(header))
    for mode, figures in results.items():
        for name, seconds in figures.seconds.items():
            p50, p90, p99 = quantiles_ms(seconds)
            target = TARGETS_MS.get((mode, name))
            shown = "" if target is None else f"<= {target:.0f} {'ok' if p50 <= target else 'MISS'}"
            floored = floor.get(PRINT_WARM if name == PRINT_LONG else name)
            floor_p50 = "" if floored is None else f"{quantiles_ms(floored)[0]:.2f}"
            print(
                f"{name:28} {mode:12} {len(seconds):3} {p50:9.1f} {p90:9.1f} {p99:9.1f} "
                f"{shown:>12} {floor_p50:>10}"
            )
    print("(milliseconds; floor: a persistent local interpreter over a pipe, for the new thread")
    print(" a fresh `python -c 'print(1+1)'`; idle session RSS: see bench_sandbox.py)")
    for mode, figures in results.items():
        print(f"where the time goes, {mode} (event `time` from GET /api/thread/{{id}}/events):")
        for note in figures.notes:
            print(note)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("embedded", "distributed", "both"), default="both")
    parser.add_argument("--samples", type=int, default=50, help="requests per warm figure")
    parser.add_argument(
        "--new-threads",
        type=int,
        default=20,
        help="first executions (above 22, idle sessions are evicted: CIE_SANDBOX_MAX_SESSIONS 32)",
    )
    parser.add_argument(
        "--pace", type=float, default=1.0, help="least seconds before each new thread"
    )
    args = parser.parse_args()
    if args.samples < 2 or args.new_threads < 2:
        parser.error("--samples and --new-threads must be at least 2")
    floor = floors(args.samples, args.new_threads)
    results: dict[str, Figures] = {}
    try:
        if args.mode in ("embedded", "both"):
            results["embedded"] = embedded(args)
        if args.mode in ("distributed", "both"):
            results["distributed"] = distributed(args)
    finally:  # what was measured is shown even when a later mode fails
        report(results, floor, args)


if __name__ == "__main__":
    main()
