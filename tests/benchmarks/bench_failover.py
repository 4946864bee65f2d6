"""Benchmark: run-service replicas taking partitions over, distributed mode, no model.

The distributed system (gateway, thread-, run- and file-service, relay; a fresh PostgreSQL
database and RabbitMQ vhost) with one run-service; then, --rounds times:

- a second replica starts; measured from its "run-service ready" log line until the two
  replicas hold 8 partitions each (their /readyz), i.e. how fast a newcomer gets work;
- a chat on a thread of every partition (16 chats), so both replicas are busy;
- the second replica is SIGKILLed; measured from the kill until the survivor holds all 16
  partitions (its /readyz, polled every 10 ms), then the first chat on a thread that had been
  on the killed replica (a new Python session from the warm pool).

    uv run python tests/benchmarks/bench_failover.py [--rounds 5]

Bound by design: CIE_RUN_REBALANCE_INTERVAL_S (1 s by default) per rebalancing round.
"""

import argparse
import asyncio
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from contracts.routing import RUN_PARTITIONS, run_partition
from tests.benchmarks.bench_files_gateway import AMQP_URL, create_database, drop_database
from tests.e2e.processes import (
    Service,
    free_port,
    fresh_vhost,
    run_to_completion,
    running,
    service_env,
    wait_until_http_ready,
)

READY_TIMEOUT_S = 90.0
HELD = re.compile(r"(\d+) of \d+ partitions held")


def held(ops_url: str) -> int:
    """Partitions the replica at `ops_url` holds (-1 while it does not answer)."""
    try:
        report = httpx.get(f"{ops_url}/readyz", timeout=5).json()["checks"]["partitions"]
    except (httpx.HTTPError, KeyError, ValueError):
        return -1
    match = HELD.search(report)
    return int(match.group(1)) if match else -1


def wait_until(what: str, condition: Callable[[], bool], timeout: float = 60.0) -> float:
    """Seconds until `condition()` held (polled every 10 ms)."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.01)
    return time.perf_counter() - started


def wait_for_log(service: Service, text: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while text not in service.log():
        if service.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{service.name} not ready:\n{service.log()}")
        time.sleep(0.01)


def even_split(*ops_urls: str) -> Callable[[], bool]:
    """Whether the replicas at `ops_urls` hold equal shares of all partitions."""
    share = RUN_PARTITIONS // len(ops_urls)
    return lambda: all(held(url) == share for url in ops_urls)


def chat(http: httpx.Client, thread_id: str, code: str) -> tuple[float, str]:
    started = time.perf_counter()
    body = {"message": f"```python\n{code}\n```", "thread_id": thread_id}
    response = http.post("/api/chat", json=body, timeout=120)
    assert response.status_code == 200, response.text
    return time.perf_counter() - started, str(response.json()["message"])


def one_thread_per_partition(http: httpx.Client) -> dict[int, str]:
    threads: dict[int, str] = {}
    while len(threads) < RUN_PARTITIONS:
        thread_id = http.post("/api/thread/create").json()["thread_id"]
        threads.setdefault(run_partition(thread_id), thread_id)
    return threads


def replica_partitions(service: Service) -> set[int]:
    """The partitions a replica's log says it took and has not given back."""
    mine: set[int] = set()
    for kind, number in re.findall(r"(took|gave) partition (\d+)", service.log()):
        (mine.add if kind == "took" else mine.discard)(int(number))
    return mine


def rounds(base: str, runs_env: dict[str, str], logs: Path, count: int) -> dict[str, list[float]]:
    first_ops = f"http://127.0.0.1:{runs_env['CIE_OPS_PORT']}"
    figures: dict[str, list[float]] = {"join": [], "takeover": [], "first_chat": []}
    with httpx.Client(base_url=base, timeout=120) as http:
        threads = one_thread_per_partition(http)
        for n in range(count):
            port = free_port()
            second_ops = f"http://127.0.0.1:{port}"
            env = {**runs_env, "CIE_OPS_PORT": str(port), "CIE_SANDBOX_DIR": f"{logs}/sb{n}"}
            second = Service(f"run-service-{n + 2}", "run_service", env, logs)
            try:
                wait_for_log(second, "run-service ready")
                figures["join"].append(
                    wait_until("an even split", even_split(first_ops, second_ops))
                )
                for thread_id in threads.values():
                    chat(http, thread_id, "print('busy')")
                moved = replica_partitions(second)
                second.process.send_signal(signal.SIGKILL)
                figures["takeover"].append(
                    wait_until("the survivor holds all", lambda: held(first_ops) == RUN_PARTITIONS)
                )
                seconds, answer = chat(http, threads[min(moved)], "print('moved')")
                assert "moved" in answer, answer
                figures["first_chat"].append(seconds)
            finally:
                second.stop(signal.SIGKILL)
    return figures


def system(count: int) -> dict[str, list[float]]:
    name, database_url = asyncio.run(create_database())
    try:
        with (
            fresh_vhost(AMQP_URL, "cie-bench") as amqp_url,
            tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp,
        ):
            port, files_port = free_port(), free_port()
            files_url = f"http://127.0.0.1:{files_port}"
            common = {"CIE_DATABASE_URL": database_url, "CIE_AMQP_URL": amqp_url}
            quiet = service_env({**common, "CIE_LOG_LEVEL": "WARNING"})
            told = service_env({**common, "CIE_LOG_LEVEL": "INFO"})
            runs_env = {
                **told,
                "CIE_OPS_PORT": str(free_port()),
                "CIE_FILE_SERVICE_URL": files_url,
                "CIE_SANDBOX_DIR": f"{tmp}/sandbox",
            }
            for job in ("gateway.migrate", "file_service.migrate"):
                migrated = run_to_completion(job, quiet)
                assert migrated.returncode == 0, migrated.stdout + migrated.stderr
            logs = Path(tmp)
            services: dict[str, Service] = {}
            with running(services):
                ops = {**quiet, "CIE_OPS_PORT": str(free_port())}
                services["thread-service"] = Service("thread-service", "thread_service", ops, logs)
                relay_ops = {**quiet, "CIE_OPS_PORT": str(free_port())}
                services["relay"] = Service("relay", "eventkit.relay_main", relay_ops, logs)
                files_env = {
                    **quiet,
                    "CIE_FILE_SERVICE_PORT": str(files_port),
                    "CIE_BLOB_DIR": f"{tmp}/blobs",
                }
                services["file-service"] = Service("file-service", "file_service", files_env, logs)
                services["run-service"] = Service("run-service", "run_service", runs_env, logs)
                gateway_env = {**quiet, "PORT": str(port), "CIE_FILE_SERVICE_URL": files_url}
                services["gateway"] = Service("gateway", "gateway", gateway_env, logs)
                base = f"http://127.0.0.1:{port}"
                procs = list(services.values())
                wait_until_http_ready(f"{base}/", procs, READY_TIMEOUT_S)
                wait_until_http_ready(f"{files_url}/healthz", procs, READY_TIMEOUT_S)
                wait_for_log(services["run-service"], "run-service ready")
                return rounds(base, runs_env, logs, count)
    finally:
        asyncio.run(drop_database(name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures = system(args.rounds)
    print(f"run-service failover, {args.rounds} rounds (ms: p50, min, max)")
    labels = {
        "join": "newcomer ready -> even split",
        "takeover": "SIGKILL -> survivor holds all 16",
        "first_chat": "first chat on a moved thread",
    }
    for key, label in labels.items():
        values = [s * 1000 for s in figures[key]]
        print(
            f"  {label:34} {statistics.median(values):8.0f} {min(values):8.0f} {max(values):8.0f}"
        )


if __name__ == "__main__":
    main()
