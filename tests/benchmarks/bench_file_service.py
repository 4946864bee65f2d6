"""Benchmark: 1 GiB upload and download straight to file-service over loopback.

Starts `python -m file_service` (SQLite events, blobs on local disk in a temp dir) on a free
port, uploads a 1 GiB CSV (or JSON array) as multipart/form-data streamed from a generator
(never whole in memory), then downloads it. Prints throughput, the server's peak RSS (VmHWM,
reset between phases) and its CPU time. Targets: >= 200 MB/s each way, peak RSS <= 150 MB.

    make bench-file_service ARGS='--mib 1024 --kind json --verify'
"""

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.e2e.processes import (
    Service,
    free_port,
    run_to_completion,
    running,
    service_env,
    wait_until_http_ready,
)

MIB = 1 << 20
BOUNDARY = "bench-boundary-b3f1c2"
CSV_CHUNK = b"".join(b"%07d,some text,3.14159,2026-11-26\n" % i for i in range(MIB // 36 + 1))
# A JSON array of records: every MiB is whole records, each followed by a comma.
RECORD = '{"id": 1234567, "name": "caf\u00e9 \u2615", "values": [1, 2.5, null, true]},'.encode()
CONTENT = {
    "csv": (b"id,text,number,day\n", CSV_CHUNK[:MIB], b""),
    "json": (b"[", (RECORD * (MIB // len(RECORD) + 1))[: MIB // len(RECORD) * len(RECORD)], b"{}]"),
}


def body(kind: str, mib: int) -> tuple[Iterator[bytes], int]:
    """A multipart body around about `mib` MiB of CSV lines or JSON records, and its length."""
    first, chunk, last = CONTENT[kind]
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.{kind}"'
        "\r\n\r\n"
    ).encode() + first
    tail = last + f"\r\n--{BOUNDARY}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(mib):
            yield chunk
        yield tail

    return chunks(), len(head) + mib * len(chunk) + len(tail)


def reset_peak_rss(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024, help="file size in MiB")
    parser.add_argument("--kind", choices=sorted(CONTENT), default="csv", help="file type")
    parser.add_argument("--verify", action="store_true", help="hash the download client-side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        port = free_port()
        env = service_env(
            {
                "CIE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/files.db",
                "CIE_BLOB_DIR": f"{tmp}/blobs",
                "CIE_FILE_SERVICE_PORT": str(port),
                "CIE_MAX_UPLOAD_BYTES": str((args.mib + 1) * MIB),
                "CIE_LOG_LEVEL": "WARNING",
            }
        )
        migrated = run_to_completion("file_service.migrate", env)
        assert migrated.returncode == 0, migrated.stderr
        base = f"http://127.0.0.1:{port}"
        service = Service("file-service", "file_service", env, Path(tmp))
        with running({"file-service": service}):
            wait_until_http_ready(f"{base}/healthz", [service])
            pid = service.process.pid
            with httpx.Client(base_url=base, timeout=600) as http:
                content, length = body(args.kind, args.mib)
                reset_peak_rss(pid)
                cpu, start = cpu_seconds(pid), time.perf_counter()
                response = http.post(
                    "/files",
                    content=content,
                    headers={
                        "content-type": f"multipart/form-data; boundary={BOUNDARY}",
                        "content-length": str(length),
                    },
                )
                up_s, up_cpu = time.perf_counter() - start, cpu_seconds(pid) - cpu
                assert response.status_code == 201, response.text
                meta = response.json()
                up_rss = peak_rss_mb(pid)

                reset_peak_rss(pid)
                digest = hashlib.sha256()
                received = 0
                cpu, start = cpu_seconds(pid), time.perf_counter()
                with http.stream("GET", f"/files/{meta['file_id']}") as download:
                    for chunk in download.iter_raw(MIB):
                        received += len(chunk)
                        if args.verify:
                            digest.update(chunk)
                down_s, down_cpu = time.perf_counter() - start, cpu_seconds(pid) - cpu
                down_rss = peak_rss_mb(pid)
    size = meta["size"]
    assert received == size, (received, size)
    if args.verify:
        assert digest.hexdigest() == meta["sha256"]
    print(
        f"file-service, {size / MIB:.0f} MiB {args.kind.upper()} over loopback, "
        "SQLite events + local-disk blobs"
    )
    print(
        f"  upload   {size / up_s / 1e6:7.1f} MB/s  ({up_s:.2f} s, server CPU {up_cpu:.2f} s, "
        f"peak RSS {up_rss:.0f} MB)   profile: {sorted(meta['profile'])}"
    )
    print(
        f"  download {size / down_s / 1e6:7.1f} MB/s  ({down_s:.2f} s, server CPU "
        f"{down_cpu:.2f} s, peak RSS {down_rss:.0f} MB)"
        + ("   sha256 verified" if args.verify else "")
    )
    print("  targets: >= 200 MB/s each way, peak RSS <= 150 MB")


if __name__ == "__main__":
    main()
