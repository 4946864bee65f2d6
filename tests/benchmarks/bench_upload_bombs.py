"""Benchmark: the embedded server's memory while "spreadsheet bombs" are uploaded.

Starts `python -m cie_embedded` on a fresh temporary CIE_DATA_DIR (bench_startup.System),
waits for GET /readyz 200, uploads one small ordinary .xlsx (so first-use costs are in the
baseline), then uploads through POST /api/upload (multipart field `file`), --rounds times:

1. "one-row bomb": ~135 KB of .xlsx whose sheet has <dimension ref="A1:XFD1"> and one row of
   4.5 million cells (~65 MiB of XML);
2. "no-dimension bomb": no <dimension>, rows of the same cells up to --scale GiB of XML
   (default 1; the issue's file was 12.5 MB expanding to 4 GiB, --scale 4), deflate level 9.

Both are written with zipfile as a stream, so the generator stays small in memory. For each
upload: HTTP status, seconds, the profile from GET /api/file/{id}/meta, the server's RSS
after. RSS is VmRSS of the server process itself; beside it, the sum over its descendants
in its own session (the profiling child processes) and, apart, over the sandbox sessions
(the warm pool: they run in sessions of their own). A thread samples /proc every 0.1 s for
the peaks. Target: the server's RSS after all bombs back within 50 MiB of before.

    make bench-upload_bombs ARGS='--rounds 3 --scale 1'
"""

import argparse
import signal
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_startup import System
from tests.benchmarks.process_tree import descendants
from tests.e2e.processes import free_port

MIB = 1 << 20
TARGET_MIB = 50.0
SAMPLE_S = 0.1
SETTLE_S = 2.0  # before the baseline and the final figure
UPLOAD_TIMEOUT_S = 120.0
CELL = b"<c><v>1</v></c>"
ONE_ROW_CELLS = 4_500_000
ROW_CELLS = 250  # per row of the no-dimension bomb
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006"
OFFICE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
XLSX = f"{OFFICE}.sheet"
PARTS = {
    "[Content_Types].xml": f'<Types xmlns="{PKG}/content-types"><Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default '
    'Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
    f'ContentType="{OFFICE}.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" '
    f'ContentType="{OFFICE}.worksheet+xml"/></Types>',
    "_rels/.rels": f'<Relationships xmlns="{PKG}/relationships"><Relationship Id="rId1" '
    f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="Sheet1"'
    ' sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{PKG}/relationships"><Relationship '
    f'Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}


def write_xlsx(path: Path, dimension: str | None, sheet_data: Iterator[bytes]) -> int:
    """A minimal workbook whose one sheet's <sheetData> is `sheet_data`, streamed into the
    zip (deflate level 9); the sheet XML's size."""
    head = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{MAIN}">'
    if dimension:
        head += f'<dimension ref="{dimension}"/>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(head.encode() + b"<sheetData>")
            for chunk in sheet_data:
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return archive.getinfo("xl/worksheets/sheet1.xml").file_size


def one_row() -> Iterator[bytes]:
    yield b'<row r="1">'
    for _ in range(ONE_ROW_CELLS // 10_000):
        yield CELL * 10_000
    yield b"</row>"


def many_rows(total: int) -> Iterator[bytes]:
    cells, written, number = CELL * ROW_CELLS, 0, 1
    while written < total:
        chunk = b"".join(b'<row r="%d">%s</row>' % (number + i, cells) for i in range(256))
        number, written = number + 256, written + len(chunk)
        yield chunk


def small() -> Iterator[bytes]:
    text = '<c t="inlineStr"><is><t>{}</t></is></c>'
    yield f"<row>{text.format('city')}{text.format('n')}</row>".encode()
    for city, n in (("Lyon", 3), ("Oslo", 5)):
        yield f"<row>{text.format(city)}<c><v>{n}</v></c></row>".encode()


def summary(profile: object) -> str:
    """A profile in one line: its error, or its fields with lists and dicts as their length."""
    if not isinstance(profile, dict):
        return str(profile)[:200]
    if "error" in profile:
        return f"error: {profile['error']}"
    fields = (
        f"{key} [{len(value)}]" if isinstance(value, list | dict) else f"{key} {value!r}"
        for key, value in profile.items()
    )
    return ", ".join(fields)[:200]


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def session_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return None


def memory(pid: int) -> tuple[float, float, float]:
    """MiB of VmRSS: the server; its descendants in its session; those in sandbox sessions."""
    own = session_of(pid)
    same = other = 0
    for child in descendants(pid):
        rss = status_kb(child, "VmRSS")
        if session_of(child) == own:
            same += rss
        else:
            other += rss
    return status_kb(pid, "VmRSS") / 1024, same / 1024, other / 1024


class Sampler(threading.Thread):
    """Samples memory(pid) every SAMPLE_S; the peaks of each figure."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peaks, self.done = pid, [0.0, 0.0, 0.0], threading.Event()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_S):
            self.peaks = [max(p, m) for p, m in zip(self.peaks, memory(self.pid), strict=True)]


def shown(figures: Sequence[float]) -> str:
    server, same, other = figures
    return f"server {server:7.1f} MiB (children {same:6.1f}, sandbox sessions {other:6.1f})"


def settle(pid: int, timeout: float = 30.0) -> None:
    """Until no figure of memory(pid) moved by 1 MiB in a second (the warm pool is started)."""
    deadline, last = time.monotonic() + timeout, memory(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = memory(pid)
        if all(abs(a - b) < 1.0 for a, b in zip(last, now, strict=True)):
            return
        last = now


def wait_ready(system: System, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if system.process.poll() is not None:
            sys.exit(f"the server exited with {system.process.returncode}:\n{system.log_tail()}")
        try:
            if httpx.get(f"{system.base}/readyz", timeout=5.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    sys.exit(f"/readyz did not answer 200 within {timeout} s:\n{system.log_tail()}")


def upload(http: httpx.Client, path: Path) -> tuple[int, float, str]:
    """HTTP status, seconds, and the profile (or the error body) of one upload."""
    started = time.perf_counter()
    with path.open("rb") as handle:
        response = http.post("/api/upload", files={"file": (path.name, handle, XLSX)})
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        return response.status_code, seconds, response.text[:200]
    meta = http.get(f"/api/file/{response.json()['file_id']}/meta")
    profile = meta.json().get("profile") if meta.status_code == 200 else meta.text
    return response.status_code, seconds, summary(profile)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="uploads of each bomb")
    parser.add_argument("--scale", type=float, default=1.0, help="GiB of the no-dimension XML")
    parser.add_argument("--timeout", type=float, default=120.0, help="most seconds to start")
    args = parser.parse_args()
    if args.rounds < 1 or args.scale <= 0:
        parser.error("--rounds must be at least 1 and --scale positive")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with tempfile.TemporaryDirectory(prefix="bench-bombs-") as tmp:
        root = Path(tmp)
        xml_bytes = int(args.scale * 1024 * MIB)
        files = {
            "one-row bomb": (root / "one-row.xlsx", "A1:XFD1", one_row()),
            "no-dimension bomb": (root / "no-dimension.xlsx", None, many_rows(xml_bytes)),
            "small": (root / "small.xlsx", "A1:B3", small()),
        }
        for name, (path, dimension, rows) in files.items():
            started = time.perf_counter()
            xml = write_xlsx(path, dimension, rows)
            print(
                f"{name:18} {path.stat().st_size / 1000:9.1f} KB, sheet XML {xml / MIB:7.1f} MiB"
                f" (written in {time.perf_counter() - started:.1f} s)",
                flush=True,
            )
        (root / "data").mkdir()
        system = System(False, root / "data", free_port(), root / "server.log")
        failures = 0
        try:
            wait_ready(system, args.timeout)
            with httpx.Client(base_url=system.base, timeout=UPLOAD_TIMEOUT_S) as http:
                status, seconds, profile = upload(http, files["small"][0])
                print(f"small .xlsx: HTTP {status} {seconds:.2f} s, profile {profile}")
                settle(system.process.pid)
                before = memory(system.process.pid)
                print(f"before: {shown(before)}", flush=True)
                sampler = Sampler(system.process.pid)
                sampler.start()
                for number in range(1, args.rounds + 1):
                    for name in ("one-row bomb", "no-dimension bomb"):
                        status, seconds, profile = upload(http, files[name][0])
                        failures += status != 200
                        print(f"round {number} {name:18} HTTP {status} {seconds:6.2f} s")
                        print(f"    profile: {profile}")
                        print(f"    after:   {shown(memory(system.process.pid))}", flush=True)
                time.sleep(SETTLE_S)
                sampler.done.set()
                sampler.join(5.0)
                after = memory(system.process.pid)
            hwm = status_kb(system.process.pid, "VmHWM") / 1024
        finally:
            leftovers = system.stop()
        growth = after[0] - before[0]
        verdict = "met" if growth <= TARGET_MIB else "NOT met"
        print(f"RSS before all bombs: {shown(before)}")
        print(f"RSS after all bombs:  {shown(after)} ({SETTLE_S:g} s after the last)")
        print(f"server RSS difference: {growth:+.1f} MiB (target <= {TARGET_MIB:g} MiB: {verdict})")
        print(f"peaks sampled every {SAMPLE_S:g} s: {shown(sampler.peaks)}")
        print(f"server VmHWM (peak RSS since start): {hwm:.1f} MiB")
        if leftovers:
            print(f"({leftovers} descendant processes outlived the server and were killed)")
    if failures:
        sys.exit(f"{failures} uploads did not answer 200")


if __name__ == "__main__":
    main()
