"""HTTP download details: byte ranges, entity tags, the attachment file name."""

import re
from urllib.parse import quote

from file_service.errors import RangeNotSatisfiable
from file_service.view import GENERATED, FileRow

_SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The byte range [start, end) a `Range` header asks for, or None for the whole file.

    Handles one range: `bytes=a-b`, `bytes=a-`, `bytes=-n`. A header that is not of this form
    (other units, several ranges, garbage) is ignored, as RFC 9110 allows; a well-formed
    range that lies outside the file raises RangeNotSatisfiable (416).
    """
    if header is None:
        return None
    found = _SINGLE_RANGE.fullmatch(header.strip())
    if found is None:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(size - length, 0), size
    start = int(first)
    end = size if not last else int(last) + 1
    if last and end <= start:
        return None  # last < first: syntactically invalid, so ignored
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, min(end, size)


def etag_of(sha256: str) -> str:
    """The strong entity tag of a file: its quoted SHA-256."""
    return f'"{sha256}"'


def none_match(header: str | None, etag: str) -> bool:
    """Whether an `If-None-Match` header matches `etag` (weak comparison, `*` matches)."""
    if header is None:
        return False
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag in {tag.removeprefix("W/") for tag in tags}


def range_applies(if_range: str | None, etag: str) -> bool:
    """Whether a Range header counts: it does unless `If-Range` names another version."""
    return if_range is None or if_range.strip() == etag


def download_name(row: FileRow) -> str:
    """The name a download is saved under: `output_<id>.png` for generated PNG images (the
    spec's name), else the sanitised file name."""
    if row.origin == GENERATED and row.media_type == "image/png":
        return f"output_{row.file_id}.png"
    return row.filename


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII `filename` and, for other names, RFC 6266 `filename*`."""
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F else "_" for ch in filename)
    fallback = fallback.replace("\\", "_").replace('"', "_")
    header = f'attachment; filename="{fallback}"'
    if fallback != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header
