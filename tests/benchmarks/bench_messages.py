"""Benchmark: `GET /api/thread/{id}/messages` on a 100-message thread, embedded mode.

Starts the embedded system (`python -m cie_embedded`) on a free port with a fresh data dir,
fills one thread with 100 messages over HTTP, then times sequential GETs over keep-alive.
Prints p50/p90/p99 latency. Target: p50 <= 5 ms on a 2-core machine.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.e2e.processes import Service, free_port, running, service_env, wait_until_http_ready

MESSAGES = 100
WARMUP = 50
SAMPLES = 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = service_env(
            {"CIE_DATA_DIR": f"{tmp}/data", "PORT": str(port), "CIE_LOG_LEVEL": "WARNING"}
        )
        base = f"http://127.0.0.1:{port}"
        with running({"embedded": Service("embedded", "cie_embedded", env, Path(tmp))}) as services:
            wait_until_http_ready(f"{base}/", list(services.values()))
            with httpx.Client(base_url=base, timeout=10) as http:
                thread_id = http.post("/api/thread/create").json()["thread_id"]
                for i in range(MESSAGES):
                    http.post(
                        f"/api/thread/{thread_id}/messages", json={"content": f"message {i} " * 8}
                    )
                url = f"/api/thread/{thread_id}/messages"
                assert len(http.get(url).json()["messages"]) == MESSAGES
                for _ in range(WARMUP):
                    http.get(url)
                timings = []
                for _ in range(SAMPLES):
                    start = time.perf_counter()
                    response = http.get(url)
                    timings.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200
    timings.sort()
    q = statistics.quantiles(timings, n=100)
    print(
        f"GET /api/thread/{{id}}/messages, {MESSAGES} messages, embedded (SQLite), "
        f"{SAMPLES} sequential requests"
    )
    print(f"  p50 {q[49]:.2f} ms   p90 {q[89]:.2f} ms   p99 {q[98]:.2f} ms   (target p50 <= 5 ms)")


if __name__ == "__main__":
    main()
