"""Benchmark: the run-service Python sandbox (bubblewrap when installed, else rlimits only).

Measures, with the default limits and preload (numpy, pandas, matplotlib.pyplot):
cold start of one session; first execution for a new thread claimed from a refilled warm pool;
`print(1+1)` on a warm session; an idle session's RSS (every process of its host uid); and a
cell plotting 1,000 points with the PNG read back. Targets: warm-pool first execution p50
<= 150 ms, print(1+1) well under 10 ms, idle RSS <= 120 MB, plot cell <= 300 ms.

    make bench-sandbox ARGS='--threads 10 --execs 200'
    make bench-sandbox ARGS='--session-memory-mb 0 --data-quota-mb 0'   # without the new limits
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "run-service" / "src"))

from run_service.sandbox import SandboxLimits, SessionPool, default_sandbox

PLOT = (
    "import numpy as np, matplotlib.pyplot as plt\n"
    "x = np.linspace(0, 10, 1000)\n"
    "plt.plot(x, np.sin(x)); plt.show()"
)


def ms(samples: list[float]) -> str:
    """p50 / p95 / max of seconds, in milliseconds."""
    s = sorted(samples)
    p95 = s[min(len(s) - 1, int(len(s) * 0.95))]
    p50 = statistics.median(s)
    return f"p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  max {s[-1] * 1000:7.1f} ms"


def uid_memory_kib(uid: int | None) -> tuple[int, int]:
    """(sum of VmRSS, largest VmSize) over the processes of a host uid."""
    rss = size = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = dict(
                line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            )
        except OSError:
            continue
        if uid is not None and int(status["Uid"].split()[0]) != uid:
            continue
        rss += int(status.get("VmRSS", "0 kB").split()[0])
        size = max(size, int(status.get("VmSize", "0 kB").split()[0]))
    return rss, size


async def wait_warm(pool: SessionPool, n: int) -> None:
    """Wait until the warm pool holds n sessions again."""
    while len(pool._warm) < n:
        await asyncio.sleep(0.05)


async def main(threads: int, execs: int, session_memory_mb: int, data_quota_mb: int) -> None:
    limits = SandboxLimits(
        warm_pool_size=1,
        session_memory_bytes=session_memory_mb * 2**20,
        data_quota_bytes=data_quota_mb * 2**20,
    )
    sandbox = default_sandbox(limits)
    print(f"isolation: {sandbox.isolation_level()}")
    root = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    os.chmod(root, 0o711)

    cold = []
    for i in range(3):
        workdir = root / f"cold{i}"
        workdir.mkdir()
        t = time.perf_counter()
        session = await sandbox.start(workdir)
        cold.append(time.perf_counter() - t)
        await session.close()
    print(f"cold start, full preload (n=3):         {ms(cold)}")

    pool = SessionPool(sandbox, root)
    await pool.start()
    first = []
    for i in range(threads):
        await wait_warm(pool, 1)
        t = time.perf_counter()
        r = await pool.execute(f"bench-{i}", "1 + 1")
        first.append(time.perf_counter() - t)
        assert r.result == "2", r
    print(f"first exec, warm pool (n={threads}):          {ms(first)}")

    warm = []
    for _ in range(execs):
        t = time.perf_counter()
        r = await pool.execute("bench-0", "print(1+1)")
        warm.append(time.perf_counter() - t)
    assert r.stdout == "2\n", r
    print(f"print(1+1), warm session (n={execs}):     {ms(warm)}")

    await asyncio.sleep(1.0)
    uid = pool._live["bench-0"].uid
    rss, vm = uid_memory_kib(uid)
    print(f"idle session: RSS {rss / 1024:.1f} MiB (all its processes), VmSize {vm / 1024:.0f} MiB")

    plots = []
    for _ in range(10):
        t = time.perf_counter()
        r = await pool.execute("bench-1", PLOT)
        png = pool.read_file("bench-1", r.files[0])
        plots.append(time.perf_counter() - t)
        assert png.startswith(b"\x89PNG"), r
    print(f"plot 1,000 points + read PNG (n=10):     {ms(plots)}")
    await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--execs", type=int, default=200)
    defaults = SandboxLimits()
    parser.add_argument(
        "--session-memory-mb",
        type=int,
        default=defaults.session_memory_bytes // 2**20,
        help="0: no session cgroups (to measure what they cost)",
    )
    parser.add_argument(
        "--data-quota-mb",
        type=int,
        default=defaults.data_quota_bytes // 2**20,
        help="0: no /mnt/data quota (to measure what it costs)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.threads, args.execs, args.session_memory_mb, args.data_quota_mb))
