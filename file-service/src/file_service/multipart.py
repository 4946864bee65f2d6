"""A streaming reader of the one `file` part of a multipart/form-data body.

python-multipart's push parser does the byte work (it finds boundaries with `bytes.find`);
this module turns its callbacks into an async stream: first the file's name, then its data
as slices of the incoming chunks (memoryviews, so nothing is copied here). Other fields are
skipped without being kept. The body is read to its end, so a second file or a malformed
tail is still refused.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from file_service.errors import MalformedUpload, MissingFileField

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FILE_FIELD = "file"

MAX_OTHER_FIELD_BYTES = 1 << 20
"""Data of fields other than `file` that a body may carry (read and dropped)."""

Chunk = bytes | memoryview


@dataclass
class _Parts:
    """What the parser callbacks found in the chunk just written."""

    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    field_name: bytearray = field(default_factory=bytearray)
    value: bytearray = field(default_factory=bytearray)
    in_file: bool = False
    files_seen: int = 0
    filename: str | None = None
    data: list[Chunk] = field(default_factory=list)
    other_bytes: int = 0
    ended: bool = False
    file_ended: bool = False
    problem: Exception | None = None


class FilePartReader:
    """Reads the `file` part of one multipart body: `await filename()`, then `data()`."""

    def __init__(self, content_type: str, body: AsyncIterator[bytes]) -> None:
        self._body = body
        self._parts = _Parts()
        self._parser = MultipartParser(_boundary_of(content_type), self._callbacks())
        self._filename: str | None = None

    async def filename(self) -> str:
        """The client's name for the file (unsanitised); reads up to the file's first byte."""
        if self._filename is None:
            while self._parts.filename is None:
                if not await self._write_next():
                    raise MissingFileField("The multipart body has no `file` field")
            self._filename = self._parts.filename
        return self._filename

    async def data(self) -> AsyncIterator[Chunk]:
        """The file's bytes in the order received; then the rest of the body is checked."""
        await self.filename()
        while True:
            pending, self._parts.data = self._parts.data, []
            for piece in pending:
                yield piece
            if not await self._write_next():
                return

    async def _write_next(self) -> bool:
        """Feed the parser one more chunk; False once the body is over and well-formed."""
        try:
            chunk = await anext(self._body)
        except StopAsyncIteration:
            if not self._parts.ended:
                raise MalformedUpload(
                    "Malformed multipart body: it ends before the closing boundary"
                ) from None
            return False
        try:
            self._parser.write(chunk)
        except MultipartParseError as bad:
            raise MalformedUpload(f"Malformed multipart body: {bad}") from None
        if self._parts.problem is not None:
            raise self._parts.problem
        return True

    def _callbacks(self) -> "MultipartCallbacks":
        parts = self._parts

        def on_part_begin() -> None:
            parts.headers.clear()
            parts.in_file = False

        def on_header_field(data: bytes, start: int, end: int) -> None:
            parts.field_name += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            parts.value += data[start:end]

        def on_header_end() -> None:
            parts.headers.append((bytes(parts.field_name), bytes(parts.value)))
            parts.field_name.clear()
            parts.value.clear()

        def on_headers_finished() -> None:
            name, filename = _disposition(parts.headers)
            if name != FILE_FIELD:
                return
            parts.files_seen += 1
            if parts.files_seen > 1:
                parts.problem = MalformedUpload("Only one file per upload: found a second `file`")
            elif filename is None:
                parts.problem = MissingFileField("The `file` field must be a file (no filename)")
            else:
                parts.in_file, parts.filename = True, filename

        def on_part_data(data: bytes, start: int, end: int) -> None:
            if parts.in_file:
                parts.data.append(memoryview(data)[start:end])
                return
            parts.other_bytes += end - start
            if parts.other_bytes > MAX_OTHER_FIELD_BYTES:
                parts.problem = MalformedUpload(
                    f"Form fields other than `file` exceed {MAX_OTHER_FIELD_BYTES} bytes"
                )

        def on_part_end() -> None:
            parts.in_file = False

        def on_end() -> None:
            parts.ended = True

        return {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": on_end,
        }


def _boundary_of(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise MalformedUpload("Expected a multipart/form-data body with a boundary")
    return boundary


def _disposition(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    """The `name` and `filename` of a part's Content-Disposition header."""
    for key, value in headers:
        if key.strip().lower() == b"content-disposition":
            # Latin-1 maps bytes to characters one to one, so the parser hands the raw bytes
            # back; browsers send UTF-8 names raw in the header, older clients Latin-1.
            _, options = parse_options_header(value.decode("latin-1"))
            return _text(options.get(b"name")), _text(options.get(b"filename"))
    return None, None


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
