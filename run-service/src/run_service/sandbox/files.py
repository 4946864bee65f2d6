"""Host-side view of a session's workdir: change detection and symlink-safe reads."""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

Snapshot = dict[str, tuple[int, int]]
_SCAN_LIMIT = 10_000  # entries; a directory bomb must not stall the host


def snapshot(root: Path) -> Snapshot:
    """Map each regular file (relative path) to (mtime_ns, size); symlinks are never followed."""
    found: Snapshot = {}
    stack = [""]
    seen = 0
    while stack and seen < _SCAN_LIMIT:
        rel = stack.pop()
        try:
            entries = list(os.scandir(root / rel if rel else root))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            path = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                stack.append(path)
            elif entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                found[path] = (st.st_mtime_ns, st.st_size)
    return found


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    """Files that are new or whose mtime/size moved, sorted for stable output."""
    return sorted(p for p, sig in after.items() if before.get(p) != sig)


def read_file(root: Path, rel: str, max_bytes: int) -> bytes:
    """Read root/rel refusing symlinks at every component (trap 5) and anything not regular."""
    parts = [p for p in rel.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"bad path {rel!r}")
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = nxt
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{rel!r} is not a regular file")
        if st.st_size > max_bytes:
            raise ValueError(f"{rel!r} is larger than {max_bytes} bytes")
        return f.read(max_bytes + 1)[:max_bytes]


def _move_directory_aside(name: str, dir_fd: int) -> None:
    """A directory the code made where a file must go is renamed `<name>.dir-<hex>`, so the
    file can land and the thread keeps working (nothing the code made is deleted)."""
    try:
        found = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(found.st_mode):
        aside = f"{name}.dir-{uuid.uuid4().hex[:8]}"
        os.rename(name, aside, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


@contextlib.contextmanager
def incoming_file(root: Path, name: str, uid: int | None) -> Iterator[BinaryIO]:
    """A file to write that appears as root/name when the block ends, never through a symlink.

    Writes a fresh temporary entry (O_EXCL|O_NOFOLLOW), then renames it over `name`: a rename
    replaces the directory entry itself, so a symlink the session planted there is replaced,
    never written through. On an error nothing appears.
    """
    if "/" in name or "\x00" in name or name in ("", ".", ".."):
        raise ValueError(f"bad file name {name!r}")
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    temp = f".incoming-{uuid.uuid4().hex}"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(temp, flags, 0o644, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
            if uid is not None:
                os.chown(temp, uid, uid, dir_fd=dir_fd, follow_symlinks=False)
            _move_directory_aside(name, dir_fd)
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
            raise
    finally:
        os.close(dir_fd)
