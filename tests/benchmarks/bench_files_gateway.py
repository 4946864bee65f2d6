"""Benchmark: 1 GiB upload and download through the gateway, distributed mode.

Starts file-service and the gateway as separate processes against the local PostgreSQL (a
fresh database, dropped afterwards) and RabbitMQ, streams a 1 GiB CSV up through the gateway
as multipart/form-data and back down, and prints each way's throughput with the peak RSS
(VmHWM, reset between phases) of the gateway and of file-service. Alongside, the floor: a raw
copy of the same bytes on the same disk (read, write, fsync).

    make bench-files_gateway ARGS='--mib 1024'

Targets: >= 200 MB/s each way; peak RSS of gateway and of file-service each <= 150 MB.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_file_service import (
    BOUNDARY,
    MIB,
    body,
    cpu_seconds,
    peak_rss_mb,
    reset_peak_rss,
)
from tests.e2e.processes import (
    Service,
    free_port,
    run_to_completion,
    running,
    service_env,
    wait_until_http_ready,
)

ADMIN_URL = os.environ.get(
    "CIE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("CIE_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def raw_copy_mb_s(directory: Path, mib: int) -> tuple[float, float]:
    """Write `mib` MiB to a file, then copy it with fsync: (write MB/s, copy MB/s)."""
    chunks, _ = body("csv", mib)
    source, target = directory / "floor.src", directory / "floor.dst"
    start = time.perf_counter()
    with source.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    write_s = time.perf_counter() - start
    size = source.stat().st_size
    start = time.perf_counter()
    with source.open("rb") as src, target.open("wb") as dst:
        while block := src.read(MIB):
            dst.write(block)
        dst.flush()
        os.fsync(dst.fileno())
    copy_s = time.perf_counter() - start
    source.unlink()
    target.unlink()
    return size / write_s / 1e6, size / copy_s / 1e6


async def create_database() -> tuple[str, str]:
    name = f"cie_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return name, f"{base}/{name}"


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def transfer(
    base: str, pids: dict[str, int], mib: int
) -> dict[str, tuple[float, dict[str, float], dict[str, float]]]:
    """Upload, then download, through the gateway: per phase MB/s, peak RSS and CPU by process."""
    results = {}
    with httpx.Client(base_url=base, timeout=900) as http:
        content, length = body("csv", mib)
        for pid in pids.values():
            reset_peak_rss(pid)
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        start = time.perf_counter()
        response = http.post(
            "/api/upload",
            content=content,
            headers={
                "content-type": f"multipart/form-data; boundary={BOUNDARY}",
                "content-length": str(length),
            },
        )
        seconds = time.perf_counter() - start
        assert response.status_code == 200, response.text
        file_id = response.json()["file_id"]
        size = http.get(f"/api/file/{file_id}/meta").json()["size"]
        results["upload"] = (
            size / seconds / 1e6,
            {name: peak_rss_mb(pid) for name, pid in pids.items()},
            {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()},
        )
        for pid in pids.values():
            reset_peak_rss(pid)
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        received, start = 0, time.perf_counter()
        with http.stream("GET", f"/api/file/{file_id}") as download:
            for chunk in download.iter_raw(MIB):
                received += len(chunk)
        seconds = time.perf_counter() - start
        assert received == size, (received, size)
        results["download"] = (
            size / seconds / 1e6,
            {name: peak_rss_mb(pid) for name, pid in pids.items()},
            {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()},
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024, help="file size in MiB")
    args = parser.parse_args()
    name, url = asyncio.run(create_database())
    try:
        with tempfile.TemporaryDirectory(dir=".") as tmp:
            write_floor, copy_floor = raw_copy_mb_s(Path(tmp), args.mib)
            port, files_port = free_port(), free_port()
            common = {"CIE_DATABASE_URL": url, "CIE_AMQP_URL": AMQP_URL, "CIE_LOG_LEVEL": "WARNING"}
            limit = str((args.mib + 2) * MIB)
            files_env = service_env(
                {
                    **common,
                    "CIE_BLOB_DIR": f"{tmp}/blobs",
                    "CIE_FILE_SERVICE_PORT": str(files_port),
                    "CIE_MAX_UPLOAD_BYTES": limit,
                }
            )
            gateway_env = service_env(
                {
                    **common,
                    "PORT": str(port),
                    "CIE_FILE_SERVICE_URL": f"http://127.0.0.1:{files_port}",
                    "CIE_MAX_UPLOAD_BYTES": limit,
                }
            )
            for job in ("gateway.migrate", "file_service.migrate"):
                migrated = run_to_completion(job, files_env)
                assert migrated.returncode == 0, migrated.stderr
            services = {
                "file-service": Service("file-service", "file_service", files_env, Path(tmp)),
                "gateway": Service("gateway", "gateway", gateway_env, Path(tmp)),
            }
            with running(services):
                base = f"http://127.0.0.1:{port}"
                wait_until_http_ready(f"{base}/", list(services.values()))
                wait_until_http_ready(
                    f"http://127.0.0.1:{files_port}/healthz", list(services.values())
                )
                pids = {key: service.process.pid for key, service in services.items()}
                results = transfer(base, pids, args.mib)
    finally:
        asyncio.run(drop_database(name))
    print(
        f"{args.mib} MiB CSV through the gateway, distributed (PostgreSQL events, local-disk blobs)"
    )
    for phase, (rate, rss, cpu) in results.items():
        print(
            f"  {phase:8} {rate:7.1f} MB/s   peak RSS gateway {rss['gateway']:.0f} MB, "
            f"file-service {rss['file-service']:.0f} MB   CPU gateway {cpu['gateway']:.1f} s, "
            f"file-service {cpu['file-service']:.1f} s"
        )
    print(
        f"  floor: raw write+fsync {write_floor:.0f} MB/s, "
        f"raw copy+fsync {copy_floor:.0f} MB/s (same disk)"
    )
    print("  targets: >= 200 MB/s each way; peak RSS <= 150 MB per process")


if __name__ == "__main__":
    main()
