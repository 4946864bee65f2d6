"""Benchmark: start-up of the embedded system (`python -m cie_embedded`, what `make run` runs).

From the moment the process is started (just before the fork), until:
- `GET /` answers 200 (the server listens and its start-up has finished);
- `GET /readyz` answers 200 (polled alongside, from process start);
- the first `POST /api/chat` with ```python print(1+1)``` answers 200 with the output, sent
  as soon as `GET /` answered (a new thread, so it claims or starts a sandbox session).

Two cases per round: the first start on an empty CIE_DATA_DIR (a fresh temporary directory),
then a restart on the same data directory. Each start is stopped at the end of its case
(SIGTERM, then SIGKILL after STOP_TIMEOUT_S), with every process it started: the sandbox
sessions run in sessions of their own, so any descendant still there afterwards is killed by
pid. Every wait is bounded (--timeout).

The process is `sys.executable -m cie_embedded` with CIE_DATA_DIR and PORT (a free loopback
port), the rest of the environment as ours minus CIE_* variables; with --make it is `make run`
in the repository instead (uv sync if stale, then uv run), which is the newcomer's path.

    make bench-startup ARGS='--rounds 3 --make --timeout 120'

The sandbox needs bubblewrap on the PATH (or, if the sandbox finds it itself, not); the line
above the table says which one was found.
"""

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.process_tree import descendants
from tests.e2e.processes import free_port, service_env

REPO = Path(__file__).resolve().parents[2]

CHAT_BODY = {"message": "```python\nprint(1+1)\n```"}
POLL_S = 0.02  # between attempts while nothing answers yet
ATTEMPT_TIMEOUT_S = 10.0  # one GET (refused at once while nothing listens)
STOP_TIMEOUT_S = 15.0  # after SIGTERM, before SIGKILL
LOG_TAIL = 3000  # characters of the process's output shown when a start fails

ROOT = "GET / 200"
READY = "GET /readyz 200"
CHAT = "first POST /api/chat 200"
FIGURES = (ROOT, READY, CHAT)
FIRST = "first start (empty data dir)"
RESTART = "restart (same data dir)"
CASES = (FIRST, RESTART)


class StartFailed(Exception):
    """The system did not come up within the bounds, or died; the message has its log."""


@dataclass
class Results:
    """Seconds from process start, per case and figure; and what went wrong."""

    seconds: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    leftovers: int = 0  # descendants killed by pid after their parent had stopped

    def add(self, case: str, figure: str, value: float) -> None:
        self.seconds.setdefault((case, figure), []).append(value)


# --- processes ----------------------------------------------------------------------------


def start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` (to tell a process from a later one with its pid)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def descendants_started(pid: int) -> dict[int, int]:
    """Every live descendant of `pid`, with its start time."""
    found = {child: start_time(child) for child in descendants(pid)}
    return {child: started for child, started in found.items() if started is not None}


class System:
    """The embedded system started as a process (in a process group of its own), its output in
    a log file."""

    def __init__(self, use_make: bool, data_dir: Path, port: int, log_path: Path) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        env = service_env({"CIE_DATA_DIR": str(data_dir), "PORT": str(port)})
        command = ["make", "run"] if use_make else [sys.executable, "-m", "cie_embedded"]
        with log_path.open("ab") as log:
            self.started = time.perf_counter()
            self.process = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def since_start(self) -> float:
        return time.perf_counter() - self.started

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL:]
        except OSError:
            return ""

    def stop(self) -> int:
        """SIGTERM to the group, SIGKILL after STOP_TIMEOUT_S; then kill, by pid, any
        descendant still there (sandbox sessions run in sessions of their own). The number of
        such leftovers."""
        family = descendants_started(self.process.pid)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):  # the group's stragglers, if any
            os.killpg(self.process.pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        left = {pid: t for pid, t in family.items() if start_time(pid) == t}
        while left and time.monotonic() < deadline:  # a moment to exit after their parent
            time.sleep(0.05)
            left = {pid: t for pid, t in left.items() if start_time(pid) == t}
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return len(left)


@contextlib.contextmanager
def started(use_make: bool, data_dir: Path, log_path: Path, results: Results) -> Iterator[System]:
    """A started system, stopped (with its descendants) at the end whatever happens."""
    system = System(use_make, data_dir, free_port(), log_path)
    try:
        yield system
    finally:
        results.leftovers += system.stop()


# --- measuring ----------------------------------------------------------------------------


def wait_for_200(system: System, path: str, deadline: float, stop: threading.Event) -> float:
    """Seconds from process start until GET `path` answered 200."""
    with httpx.Client(base_url=system.base, timeout=ATTEMPT_TIMEOUT_S) as http:
        while time.perf_counter() < deadline and not stop.is_set():
            if system.process.poll() is not None:
                raise StartFailed(f"exited with {system.process.returncode} before {path} did")
            try:
                if http.get(path).status_code == 200:
                    return system.since_start()
            except httpx.HTTPError:
                pass
            time.sleep(POLL_S)
    raise StartFailed(f"GET {path} did not answer 200 within the timeout")


def first_chat(system: System, deadline: float) -> float:
    """Seconds from process start until the first POST /api/chat answered 200 with `2`."""
    left = max(1.0, deadline - time.perf_counter())
    with httpx.Client(base_url=system.base, timeout=left) as http:
        try:
            response = http.post("/api/chat", json=CHAT_BODY)
        except httpx.HTTPError as exc:
            raise StartFailed(f"POST /api/chat: {exc!r}") from exc
    at = system.since_start()
    if response.status_code != 200:
        raise StartFailed(f"POST /api/chat answered {response.status_code}: {response.text}")
    if "2" not in response.json().get("message", ""):
        raise StartFailed(f"POST /api/chat without the output: {response.text}")
    return at


def measure(system: System, timeout: float) -> dict[str, float]:
    """The three figures of one start: /readyz polled in a thread, / then the chat here."""
    deadline = system.started + timeout
    stop = threading.Event()
    ready: dict[str, float | BaseException] = {}

    def poll_ready() -> None:
        try:
            ready[READY] = wait_for_200(system, "/readyz", deadline, stop)
        except BaseException as exc:
            ready[READY] = exc

    poller = threading.Thread(target=poll_ready, daemon=True)
    poller.start()
    try:
        figures = {ROOT: wait_for_200(system, "/", deadline, stop)}
        figures[CHAT] = first_chat(system, deadline)
    except BaseException:
        stop.set()
        raise
    finally:
        poller.join(max(0.0, deadline - time.perf_counter()) + ATTEMPT_TIMEOUT_S + 1)
        stop.set()
    outcome = ready.get(READY, StartFailed("the /readyz poller did not finish"))
    if isinstance(outcome, BaseException):
        raise StartFailed(f"/readyz: {outcome}")
    figures[READY] = outcome
    return figures


def run_round(number: int, args: argparse.Namespace, results: Results) -> None:
    """A first start on a fresh data directory, then a restart on it."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        for case in CASES:
            log_path = Path(tmp) / f"{'first' if case == FIRST else 'restart'}.log"
            with started(args.make, data_dir, log_path, results) as system:
                try:
                    figures = measure(system, args.timeout)
                except StartFailed as exc:
                    results.failures.append(
                        f"round {number}, {case}: {exc}\n--- output (tail)\n{system.log_tail()}"
                    )
                    return  # a restart after a failed first start measures nothing useful
            for figure, value in figures.items():
                results.add(case, figure, value)
            shown = ", ".join(f"{f} {figures[f]:.2f} s" for f in FIGURES)
            print(f"  round {number}, {case}: {shown}", flush=True)


# --- report -------------------------------------------------------------------------------


def report(results: Results) -> None:
    header = f"{'figure (s from process start)':30} {'case':30} {'n':>2} {'p50':>7} {'min-max':>13}"
    print(header)
    print("-" * len(header))
    for case in CASES:
        for figure in FIGURES:
            values = results.seconds.get((case, figure), [])
            if not values:
                continue
            p50 = statistics.median(values)
            spread = f"{min(values):.2f}-{max(values):.2f}"
            print(f"{figure:30} {case:30} {len(values):2} {p50:7.2f} {spread:>13}")
    if results.leftovers:
        print(f"({results.leftovers} descendant processes outlived their parent and were killed)")
    for failure in results.failures:
        print(f"FAILED {failure}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="rounds of first start + restart")
    parser.add_argument("--make", action="store_true", help="start through `make run` instead")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="most seconds one start may take"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    command = "make run" if args.make else f"{sys.executable} -m cie_embedded"
    print(f"start-up of `{command}`; {args.rounds} rounds; bwrap on PATH: {shutil.which('bwrap')}")
    print(f"cpus: {os.cpu_count()}; the chat: {CHAT_BODY['message']!r}, sent once / answers")
    # A SIGTERM to the benchmark unwinds it as Ctrl-C does: the started system is stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    results = Results()
    try:
        for number in range(1, args.rounds + 1):
            run_round(number, args, results)
    finally:  # what was measured is shown even when a round fails or is interrupted
        report(results)
    if results.failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
