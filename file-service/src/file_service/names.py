"""Turning a client's file name into one that is safe to show, to store and to use as a path.

The result is a single path component: no directory parts, no `.`/`..`, no control, format
or separator characters, NFC-normalised, at most MAX_NAME_BYTES of UTF-8, never empty. Blobs
are never stored under it (they are content-addressed), but run-service will write files
into a sandbox under this name, so it must be harmless there too.
"""

import re
import unicodedata

MAX_NAME_BYTES = 200
"""Room under the usual 255-byte file-name limit for a prefix or suffix added later."""

MAX_EXTENSION_CHARS = 16
"""A longer "extension" is part of the stem (`report.final-version-2024-q3-draft`)."""

FALLBACK_STEM = "file"

# Cc: C0/C1 controls incl. NUL, tab, newline; Cf: format characters, among them the bidi
# overrides (U+202E makes `gpj.exe` read as `exe.jpg`) and zero-width characters; Zl/Zp:
# line and paragraph separators; Cs/Co/Cn: surrogates, private use, unassigned.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
# Reserved on Windows or meaningful to shells and headers; replaced rather than dropped so
# `a:b.csv` stays readable as `a_b.csv`.
_REPLACED = re.compile(r'[<>:"|?*]')
_SPACES = re.compile(r"\s+")


def sanitise_filename(raw: str) -> str:
    """A safe, non-empty, single-component file name derived from `raw`."""
    name = unicodedata.normalize("NFC", raw)
    # Both separators, whatever the client's OS: keep only the last component.
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    name = _SPACES.sub(" ", _REPLACED.sub("_", name)).strip()
    stem, extension = split_extension(name)
    # Leading dots would hide the file (and `..` is all dots); trailing dots and spaces are
    # dropped by Windows, so two names could collide there.
    stem = stem.strip(" .") or FALLBACK_STEM
    extension = extension.rstrip(" .")
    return _cap(stem, extension)


def split_extension(name: str) -> tuple[str, str]:
    """`("report", ".csv")` for `report.csv`; no extension if it is missing or too long."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not extension or len(extension) > MAX_EXTENSION_CHARS or " " in extension:
        return name, ""
    return stem, f".{extension}"


def extension_of(name: str) -> str:
    """The lower-case extension of `name` with its dot (`.csv`), or `""`."""
    return split_extension(name)[1].lower()


def _cap(stem: str, extension: str) -> str:
    budget = MAX_NAME_BYTES - len(extension.encode())
    encoded = stem.encode()
    if len(encoded) > budget:
        # Cut on a character boundary, then re-normalise: a cut may split a combining sequence.
        stem = encoded[:budget].decode("utf-8", errors="ignore")
        stem = unicodedata.normalize("NFC", stem).rstrip(" .") or FALLBACK_STEM
    return stem + extension
