"""Benchmark: run-service replicas taking partitions over, distributed mode, no model.

The distributed system (gateway, thread-, run- and file-service, relay; a fresh PostgreSQL
database and RabbitMQ vhost) with one run-service; then, --rounds times:

- a second replica starts; measured from its "run-service ready" log line until the two
  replicas hold 8 partitions each (their /readyz), i.e. how fast a newcomer gets work;
- a chat on a thread of every partition (16 chats), so both replicas are busy;
- the second replica is SIGKILLed; measured from the kill until the survivor holds all 16
  partitions (its /readyz, polled every 10 ms), then the first chat on a thread that had been
  on the killed replica (a new Python session from the warm pool).

    make bench-failover ARGS='--rounds 5'

Bound by design: CIE_RUN_REBALANCE_INTERVAL_S (1 s by default) per rebalancing round.
"""

import argparse
import re
import signal
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from contracts.routing import RUN_PARTITIONS, run_partition
from tests.benchmarks.distributed import DistributedSystem, distributed_system, wait_for_log
from tests.e2e.processes import Service, free_port

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
    for kind, number in re.findall(r"(took|gave back) partition (\d+)", service.log()):
        (mine.add if kind == "took" else mine.discard)(int(number))
    return mine


def rounds(system: DistributedSystem, count: int) -> dict[str, list[float]]:
    first_ops = system.ops_url(system.runs_env)
    figures: dict[str, list[float]] = {"join": [], "takeover": [], "first_chat": []}
    with httpx.Client(base_url=system.base_url, timeout=120) as http:
        threads = one_thread_per_partition(http)
        for n in range(count):
            env = {
                **system.runs_env,
                "CIE_OPS_PORT": str(free_port()),
                "CIE_SANDBOX_DIR": f"{system.logs}/sandbox-{n + 2}",
            }
            second = Service(f"run-service-{n + 2}", "run_service", env, system.logs)
            second_ops = system.ops_url(env)
            try:
                wait_for_log(second, "run-service ready", [second])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with distributed_system("bench-failover-") as system:
        figures = rounds(system, args.rounds)
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
