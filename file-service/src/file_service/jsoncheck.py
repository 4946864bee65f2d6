"""Validating a .json upload while it streams, in bounded memory.

How big files are checked, and why: a full parse of a 1 GiB document would build gigabytes of
Python objects, and no streaming JSON parser in Python reaches the 200 MB/s target (a
tokenising parser spends microseconds per token). So:

- a file of at most HEAD_BYTES (2 MiB) is kept whole and parsed with `json.loads`: exact;
- a larger one gets checks that are exact where they look and cost almost nothing per byte:
  every byte must be valid UTF-8 (checked incrementally, with an ASCII fast path); the
  document must be an array or object whose last non-blank byte closes it (a truncated
  upload fails here); and the first 2 MiB are parsed element by element as a prefix of that
  array or object (a CSV or log renamed .json, or a broken first record, fails here). A
  syntax error deep inside a large file is not detected; the profile then shows what parsed.
"""

import codecs
import json
import re
from dataclasses import dataclass, field
from typing import Any

from file_service.errors import ContentMismatch

FULL_PARSE_BYTES = 2 << 20
"""Documents up to this size are parsed whole (must not exceed kinds.HEAD_BYTES)."""

MAX_PREFIX_ELEMENTS = 1000
"""Elements of a large document's prefix kept for the profile."""

_BLANK = re.compile(r"[ \t\r\n]*")
_BOM = "\ufeff"
_CLOSERS = {"[": "]", "{": "}"}
_TRUNCATION_SLACK = 16  # an error this close to the end of the prefix means "cut off here"
_DECODER = json.JSONDecoder()


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _Decoder(json.JSONDecoder):
    """The strict decoder, for which nesting too deep for Python is a ValueError like any
    other reason a document cannot be read (json raises RecursionError there)."""

    def raw_decode(self, s: str, idx: int = 0) -> tuple[Any, int]:
        try:
            return super().raw_decode(s, idx)
        except RecursionError:
            raise ValueError(TOO_DEEP) from None


TOO_DEEP = "it is nested too deeply to be read (arrays and objects inside each other)"
_STRICT = _Decoder(parse_constant=_no_constants)


@dataclass
class PrefixScan:
    """What parsing the start of a document found: its kind and first elements."""

    kind: str
    elements: list[Any] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    closed: bool = False


class JsonCheck:
    """Streaming UTF-8 check plus the final structural check of one .json upload."""

    def __init__(self, filename: str) -> None:
        self._filename = filename
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self._pending = False
        self._offset = 0

    def feed(self, chunk: bytes | bytearray) -> None:
        """Check that `chunk` continues valid UTF-8."""
        if not self._pending and chunk.isascii():
            self._offset += len(chunk)
            return
        try:
            self._utf8.decode(chunk)
        except UnicodeDecodeError as bad:
            self._refuse(f"invalid UTF-8 at byte {self._offset + bad.start}")
        self._pending = bool(self._utf8.getstate()[0])
        self._offset += len(chunk)

    def finish(self, head: bytes, tail: bytes, *, complete: bool) -> None:
        """Raise ContentMismatch unless the document passes (see the module docstring)."""
        try:
            self._utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            self._refuse("it ends inside a UTF-8 character")
        text = decode_prefix(head)
        if complete:
            try:
                _STRICT.decode(text)
            except ValueError as error:
                self._refuse(str(error))
            return
        start = _first_char(text)
        if start not in _CLOSERS:
            self._refuse(
                f"a JSON file over {FULL_PARSE_BYTES >> 20} MiB must be an array or object"
            )
        end = tail.rstrip(b" \t\r\n")[-1:].decode("latin-1")
        if end != _CLOSERS[start]:
            self._refuse(f"it does not end with {_CLOSERS[start]!r} (truncated?)")
        try:
            scan_prefix(text)
        except ValueError as error:
            self._refuse(str(error))

    def _refuse(self, problem: str) -> None:
        raise ContentMismatch(f"{self._filename} is not valid JSON: {problem}")


def decode_json(text: str) -> Any:
    """A whole document, strictly (ValueError, never RecursionError, when it cannot be read)."""
    return _STRICT.decode(text)


def decode_prefix(head: bytes) -> str:
    """The text of a document's first bytes, without a BOM or a character cut in half."""
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(head)
    return text.removeprefix(_BOM)


def scan_prefix(text: str) -> PrefixScan:
    """Parse the start of an array or object element by element, stopping where `text` ends.

    Raises ValueError (with position) on a syntax error that more text could not repair.
    """
    start = _skip(text, 0)
    scan = PrefixScan(kind="array" if text[start : start + 1] == "[" else "object")
    index = _skip(text, start + 1)
    closer = _CLOSERS[text[start]]
    while index < len(text):
        if text[index] == closer and not scan.elements and not scan.keys:
            scan.closed = True
            break
        try:
            index = _next_member(text, index, scan)
        except ValueError as error:
            if _cut_off(text, error):
                break
            raise
        index = _skip(text, index)
        if index >= len(text):
            break
        if text[index] == closer:
            scan.closed = True
            break
        if text[index] != ",":
            raise ValueError(f"expected ',' or {closer!r} at character {index}")
        index = _skip(text, index + 1)
    if scan.closed and _skip(text, index + 1) < len(text):
        raise ValueError(f"extra data after the top-level {scan.kind}")
    return scan


def _next_member(text: str, index: int, scan: PrefixScan) -> int:
    if scan.kind == "object":
        key, index = _STRICT.raw_decode(text, index)
        if not isinstance(key, str):
            raise ValueError(f"object keys must be strings (character {index})")
        index = _skip(text, index)
        if text[index : index + 1] != ":":
            if index >= len(text):
                raise json.JSONDecodeError("Expecting ':' delimiter", text, index)
            raise ValueError(f"expected ':' at character {index}")
        value, index = _STRICT.raw_decode(text, _skip(text, index + 1))
        if len(scan.keys) < MAX_PREFIX_ELEMENTS:
            scan.keys.append(key)
            scan.elements.append(value)
        return int(index)
    value, index = _STRICT.raw_decode(text, index)
    if len(scan.elements) < MAX_PREFIX_ELEMENTS:
        scan.elements.append(value)
    return int(index)


def _cut_off(text: str, error: ValueError) -> bool:
    # An unterminated string, or an error in the last few characters (`tru`, `1.`, `{"a"`),
    # is where the prefix was cut, not a mistake in the document.
    if isinstance(error, json.JSONDecodeError):
        return error.msg.startswith("Unterminated string") or (
            error.pos >= len(text) - _TRUNCATION_SLACK
        )
    return False


def _skip(text: str, index: int) -> int:
    found = _BLANK.match(text, index)
    return found.end() if found else index


def _first_char(text: str) -> str:
    index = _skip(text, 0)
    return text[index : index + 1]
