"""Profiles of stored files: what a user (and the assistant) sees before opening one.

Text, CSV and JSON profiles read only what the upload stream kept (the first 2 MiB, the last
64 KiB, the count of line breaks), so they cost nothing more for a 1 GiB file. Spreadsheets
and PDFs need random access and their parsers can be made to take gigabytes or minutes: they
are profiled in a child process (`profile_child`) limited to PROFILE_MEMORY_BYTES of address
space and PROFILE_TIMEOUT_S of CPU and wall-clock time, killed past either, so file-service's
own memory stays flat. A profile never fails an upload: a file that cannot be profiled (or
that hit a limit) gets `{"error": "..."}`.
"""

import asyncio
import codecs
import contextlib
import csv
import io
import json
import logging
import math
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Iterator
from typing import Any, BinaryIO

from file_service import profiles_office
from file_service.blobs import BlobStore
from file_service.jsoncheck import decode_json, decode_prefix, scan_prefix
from file_service.kinds import StreamFacts
from file_service.profile_child import TOO_MUCH_MEMORY, cannot_profile
from file_service.profiles_tabular import INFERENCE_ROWS, MAX_CELL_CHARS, table_profile

logger = logging.getLogger(__name__)

PROFILE_TIMEOUT_S = 10.0
"""A profile taking longer is given up (a spreadsheet's or PDF's child process is killed)."""

PROFILE_MEMORY_BYTES = 768 << 20
"""Address space of the child process that profiles a spreadsheet or PDF."""

PROFILE_CHILDREN = 2
"""Children profiling at once: more uploads of spreadsheets wait their turn (each child may
take PROFILE_MEMORY_BYTES and a core)."""

_children: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = (
    weakref.WeakKeyDictionary()
)


def _child_slots() -> asyncio.Semaphore:
    """The running loop's semaphore for profiling children (one per loop: tests run many)."""
    loop = asyncio.get_running_loop()
    if loop not in _children:
        _children[loop] = asyncio.Semaphore(PROFILE_CHILDREN)
    return _children[loop]


FIRST_LINES = 10
MAX_OBJECT_KEYS = 50


async def profile_file(
    extension: str, facts: StreamFacts, blobs: BlobStore, key: str
) -> dict[str, Any]:
    """The profile of a just-stored file of type `extension`; never raises."""
    in_child = extension in profiles_office.PROFILERS
    try:
        async with _child_slots() if in_child else contextlib.nullcontext():
            # A child is killed at PROFILE_TIMEOUT_S by subprocess.run itself; the margin
            # lets that happen before the upload answers.
            margin = 2.0 if in_child else 0.0
            return await asyncio.wait_for(
                asyncio.to_thread(_profile_sync, extension, facts, blobs, key),
                PROFILE_TIMEOUT_S + margin,
            )
    except TimeoutError:
        return _too_slow()
    except Exception as error:
        logger.info("cannot profile %s blob %s: %r", extension, key, error)
        return cannot_profile(error)


def _profile_sync(extension: str, facts: StreamFacts, blobs: BlobStore, key: str) -> dict[str, Any]:
    if extension == ".csv":
        return profile_csv(facts)
    if extension == ".txt":
        return profile_text(facts)
    if extension == ".json":
        return profile_json(facts)
    if extension in profiles_office.PROFILERS:
        return profile_in_child(extension, facts.size, blobs, key)
    return {"error": f"no profile for {extension or 'files without an extension'}"}


def profile_in_child(extension: str, size: int, blobs: BlobStore, key: str) -> dict[str, Any]:
    """Run `profile_child` on the blob, within the limits (blocking: call it in a thread)."""
    with blobs.open_reader(key) as reader, _as_file(reader) as stdin:
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-m", "file_service.profile_child", extension, str(size)],
                stdin=stdin,
                capture_output=True,
                env={},
                timeout=PROFILE_TIMEOUT_S,
                check=False,
                preexec_fn=_limit_child,
            )
        except subprocess.TimeoutExpired:  # run() has killed it
            return _too_slow()
    if done.returncode != 0:
        if done.returncode in (-signal.SIGKILL, -signal.SIGXCPU):  # RLIMIT_CPU
            return _too_slow()
        if b"MemoryError" in done.stderr:
            return {"error": TOO_MUCH_MEMORY}
        logger.info("profiling %s blob %s failed: %s", extension, key, done.stderr[-500:])
        return {"error": f"cannot profile this file (exit status {done.returncode})"}
    profile: dict[str, Any] = json.loads(done.stdout)
    return profile


def _too_slow() -> dict[str, str]:
    return {"error": f"profiling took longer than {PROFILE_TIMEOUT_S:g} s"}


def _limit_child() -> None:
    cpu = math.ceil(PROFILE_TIMEOUT_S)
    resource.setrlimit(resource.RLIMIT_AS, (PROFILE_MEMORY_BYTES, PROFILE_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@contextlib.contextmanager
def _as_file(reader: BinaryIO) -> Iterator[BinaryIO]:
    """`reader` itself when it is a file on disk, else a temporary copy (in-memory blobs)."""
    try:
        reader.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        with tempfile.TemporaryFile() as copy:
            shutil.copyfileobj(reader, copy)
            copy.seek(0)
            yield copy
        return
    yield reader


def decode_text(facts: StreamFacts) -> tuple[str, str]:
    """The head as text, cut after its last whole line unless it is the whole file, and the
    encoding used (UTF-8, else Latin-1, which never fails)."""
    head = facts.head
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")("strict").decode(head)
        encoding = "utf-8"
    except UnicodeDecodeError:
        text, encoding = head.decode("latin-1"), "latin-1"
    if not facts.complete_in_head:
        text = text[: text.rfind("\n") + 1]
    return text, encoding


def line_count(facts: StreamFacts) -> int:
    """Lines in the file: line breaks, plus one for a last line without a break."""
    return facts.newlines + (0 if facts.size == 0 or facts.tail.endswith(b"\n") else 1)


def profile_text(facts: StreamFacts) -> dict[str, Any]:
    """Line count, encoding and the first lines."""
    text, encoding = decode_text(facts)
    lines = [line[:MAX_CELL_CHARS] for line in text.splitlines()[:FIRST_LINES]]
    return {"line_count": line_count(facts), "encoding": encoding, "first_lines": lines}


def profile_csv(facts: StreamFacts) -> dict[str, Any]:
    """Columns, inferred types, row count and sample rows of a CSV.

    Rows are counted exactly when the whole file fit in the head, else as line breaks, which
    over-counts rows whose quoted fields contain line breaks.
    """
    text, encoding = decode_text(facts)
    dialect = _sniff(text)
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, [])
    rows: list[list[str]] = []
    counted = 0
    for row in reader:
        if not row:
            continue
        counted += 1
        if len(rows) < INFERENCE_ROWS:
            rows.append(row)
        elif not facts.complete_in_head:
            break
    if facts.complete_in_head:
        row_count, exact = counted, True
    else:
        row_count, exact = max(line_count(facts) - 1, 0), False
    profile = table_profile(header, rows, row_count)
    profile.update(
        row_count_exact=exact, delimiter=dialect.delimiter, encoding=encoding, format="csv"
    )
    return profile


def _sniff(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def profile_json(facts: StreamFacts) -> dict[str, Any]:
    """Top-level kind; for an array of objects, columns, types, row count and samples."""
    text = decode_prefix(facts.head)
    if facts.complete_in_head:
        value = decode_json(text)
        if isinstance(value, list):
            return _json_array(value, len(value), exact=True)
        if isinstance(value, dict):
            return {
                "kind": "object",
                "keys": list(value)[:MAX_OBJECT_KEYS],
                "key_count": len(value),
            }
        return {"kind": _json_kind(value)}
    scan = scan_prefix(text)
    if scan.kind == "array":
        return _json_array(scan.elements, None, exact=False)
    return {"kind": "object", "keys": scan.keys[:MAX_OBJECT_KEYS], "key_count": None}


def _json_array(elements: list[Any], count: int | None, *, exact: bool) -> dict[str, Any]:
    profile: dict[str, Any] = {"kind": "array", "length": count}
    records = [element for element in elements[:INFERENCE_ROWS] if isinstance(element, dict)]
    if elements and len(records) == len(elements[:INFERENCE_ROWS]):
        columns: dict[str, None] = {}
        for record in records:
            columns.update(dict.fromkeys(record))
        header = list(columns)
        rows = [[record.get(column) for column in header] for record in records]
        profile.update(table_profile(header, rows, count))
        profile["row_count_exact"] = exact
    else:
        profile["element_kinds"] = sorted({_json_kind(e) for e in elements[:INFERENCE_ROWS]})
    if not exact:
        profile["note"] = "only the first 2 MiB were read; the length is not counted"
    return profile


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
