"""Which files are accepted, their media types, and the cheap checks that content matches.

Checks run on the bytes as they stream past (`ContentInspector`), before the blob is kept,
so a refused upload leaves nothing behind and no check reads the file a second time.
"""

import mimetypes
from dataclasses import dataclass

from file_service.errors import ContentMismatch, UnsupportedFileType
from file_service.jsoncheck import JsonCheck
from file_service.names import extension_of

MEDIA_TYPES: dict[str, str] = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xls": "application/vnd.ms-excel",
    ".json": "application/json",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
}
"""Accepted upload extensions (spec/API.md) and the media type each is recorded with."""

ACCEPTED_EXTENSIONS: tuple[str, ...] = tuple(MEDIA_TYPES)

HEAD_BYTES = 2 << 20
"""How much of the start of a file is kept for checks and profiles (JSON this size or
smaller is parsed whole)."""

TAIL_BYTES = 64 * 1024 + 22
"""A zip's end-of-central-directory record lies within its last 64 KiB + 22 bytes."""

TEXT_PROBE_BYTES = 64 * 1024
"""Text files must have no NUL byte in this prefix (a cheap "is it binary?" test)."""

_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_ZIP_END_OF_DIRECTORY = b"PK\x05\x06"
_OLE2_HEADER = bytes.fromhex("d0cf11e0a1b11ae1")
_PDF_HEADER = b"%PDF-"
_PDF_HEADER_WINDOW = 1024  # readers accept the header anywhere in the first 1 KiB
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def upload_kind(filename: str) -> str:
    """The accepted extension of an upload's (sanitised) name, or raise UnsupportedFileType."""
    extension = extension_of(filename)
    if extension not in MEDIA_TYPES:
        raise UnsupportedFileType(filename, ACCEPTED_EXTENSIONS)
    return extension


def guess_media_type(filename: str) -> str:
    """The media type of any file name: ours first, then the platform's table, else binary."""
    extension = extension_of(filename)
    if extension in MEDIA_TYPES:
        return MEDIA_TYPES[extension]
    guessed, _ = mimetypes.guess_type(f"x{extension}", strict=False)
    return guessed or "application/octet-stream"


@dataclass
class StreamFacts:
    """What inspection learnt on the way: the head and tail kept, line breaks counted."""

    size: int = 0
    head: bytes = b""
    tail: bytes = b""
    newlines: int = 0

    @property
    def complete_in_head(self) -> bool:
        """Whether `head` holds the whole file."""
        return len(self.head) == self.size


class ContentInspector:
    """Watches an upload's chunks (of any size) and checks them against the extension."""

    def __init__(self, filename: str, extension: str) -> None:
        self.filename = filename
        self.extension = extension
        self.facts = StreamFacts()
        self._head = bytearray()
        self._json = JsonCheck(filename) if extension == ".json" else None

    def feed(self, chunk: bytes | bytearray) -> None:
        """Inspect the next chunk; raises ContentMismatch as soon as a problem is certain."""
        facts = self.facts
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        if facts.size < TEXT_PROBE_BYTES:  # the start checks look no further
            self._check_start()
        facts.size += len(chunk)
        facts.tail = (
            bytes(chunk[-TAIL_BYTES:])
            if len(chunk) >= TAIL_BYTES
            else (facts.tail + bytes(chunk))[-TAIL_BYTES:]
        )
        if self.extension in (".csv", ".txt"):
            facts.newlines += chunk.count(b"\n")
        if self._json is not None:
            self._json.feed(chunk)

    def finish(self) -> StreamFacts:
        """Final checks once every byte was seen; returns the facts for profiling."""
        self.facts.head = bytes(self._head)
        self._check_start(final=True)
        if self.extension == ".xlsx" and _ZIP_END_OF_DIRECTORY not in self.facts.tail:
            raise ContentMismatch(
                f"{self.filename} is not a valid .xlsx: the zip archive is truncated "
                "(no end-of-central-directory record)"
            )
        if self._json is not None:
            self._json.finish(
                self.facts.head, self.facts.tail, complete=self.facts.complete_in_head
            )
        return self.facts

    def _check_start(self, *, final: bool = False) -> None:
        head = bytes(self._head[:TEXT_PROBE_BYTES])
        name, ext = self.filename, self.extension
        enough = final or len(head) >= 8
        if ext == ".xlsx" and enough and not head.startswith(_ZIP_LOCAL_HEADER):
            raise ContentMismatch(f"{name} is not a valid .xlsx: it is not a zip archive")
        if ext == ".xls" and enough and not head.startswith(_OLE2_HEADER):
            raise ContentMismatch(
                f"{name} is not a valid .xls: it lacks the OLE2 compound-file header"
            )
        if (
            ext == ".pdf"
            and (final or len(head) >= _PDF_HEADER_WINDOW)
            and _PDF_HEADER not in head[:_PDF_HEADER_WINDOW]
        ):
            raise ContentMismatch(f"{name} is not a valid PDF: it has no %PDF- header")
        if ext in (".csv", ".txt") and not head.startswith(_UTF16_BOMS) and b"\x00" in head:
            raise ContentMismatch(f"{name} does not look like text: it contains NUL bytes")
