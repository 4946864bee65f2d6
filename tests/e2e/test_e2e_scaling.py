"""run-service scaled out: replicas share the run partitions, keep each thread's session and
order, and take over the partitions of a replica that dies."""

import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from contracts.routing import RUN_PARTITIONS, run_partition
from tests.e2e.conftest import Distributed
from tests.e2e.processes import Service, free_port, wait_until_http_ready

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.rabbitmq]

HELD = re.compile(r"(\d+) of \d+ partitions held")
COMPLETED = re.compile(r'^cie_runs_total\{outcome="completed"\} (\S+)$', re.MULTILINE)


@pytest.fixture
def second_replica(system: Distributed, tmp_path: Path) -> Iterator[tuple[Service, str]]:
    """Another run-service process, configured like the first but for its own ports and
    sandbox directory; killed at the end if the test has not."""
    port = free_port()
    env = {**system.runs_env, "CIE_OPS_PORT": str(port), "CIE_SANDBOX_DIR": str(tmp_path)}
    replica = Service("run-service-2", "run_service", env, system.logs)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_http_ready(f"{url}/healthz", [replica])
        yield replica, url
    finally:
        replica.stop(signal.SIGKILL)


def held(ops_url: str) -> int:
    report = httpx.get(f"{ops_url}/readyz", timeout=10).json()["checks"]["partitions"]
    match = HELD.search(report)
    assert match, report
    return int(match.group(1))


def completed_runs(ops_url: str) -> float:
    match = COMPLETED.search(httpx.get(f"{ops_url}/metrics", timeout=10).text)
    return float(match.group(1)) if match else 0.0


def wait_for(condition: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:g} s: {condition}")


def one_thread_per_partition(client: httpx.Client) -> list[str]:
    """New threads until every partition has one."""
    by_partition: dict[int, str] = {}
    while len(by_partition) < RUN_PARTITIONS:
        thread_id = client.post("/api/thread/create").json()["thread_id"]
        by_partition.setdefault(run_partition(thread_id), thread_id)
    return [by_partition[p] for p in range(RUN_PARTITIONS)]


def chat(client: httpx.Client, thread_id: str, code: str) -> str:
    body = {"message": f"```python\n{code}\n```", "thread_id": thread_id}
    response = client.post("/api/chat", json=body, timeout=90)
    assert response.status_code == 200, response.text
    return str(response.json()["message"])


def test_two_replicas_share_the_partitions_and_the_survivor_takes_over(
    system: Distributed, second_replica: tuple[Service, str]
) -> None:
    replica, second_url = second_replica
    first_url = system.ops_urls["run-service"]
    half = RUN_PARTITIONS // 2
    wait_for("an even split", lambda: held(first_url) == half and held(second_url) == half)

    before = completed_runs(first_url), completed_runs(second_url)
    with system.client() as client:
        threads = one_thread_per_partition(client)
        for n, thread_id in enumerate(threads):
            chat(client, thread_id, f"x = {n}\nprint('set', x)")
        for n, thread_id in enumerate(threads):
            # The variable is there: the thread's second run went to the session of its first.
            assert f"x is {n}" in chat(client, thread_id, "print('x is', x)")
        after = completed_runs(first_url), completed_runs(second_url)
        assert after[0] - before[0] == after[1] - before[1] == RUN_PARTITIONS, (before, after)

        replica.stop(signal.SIGKILL)
        wait_for("the survivor holds everything", lambda: held(first_url) == RUN_PARTITIONS)
        moved = 0
        for n, thread_id in enumerate(threads):
            answer = chat(client, thread_id, "print('x is', x)")
            if "restarted" in answer:  # its session died with the other replica, and it says so
                assert "NameError" in answer
                moved += 1
            else:
                assert f"x is {n}" in answer
        assert moved == RUN_PARTITIONS // 2
