"""Host uids for sessions, claimed host-wide: each session has its own RLIMIT_NPROC budget
and its own files, even with several run-service processes on one host.

A uid is held by an exclusive `flock` on `<lock dir>/<uid>` for as long as its session lives.
Locks belong to the open file, so another process (or another pool in this one) skips a held
uid, and a process that dies gives its uids back with its descriptors.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import tempfile

SPAN = 50_000  # uids base .. base + SPAN - 1


def lock_dir() -> str:
    """/run/cie-sandbox-uids where /run is writable (root), else one in the temp directory."""
    for parent in ("/run", tempfile.gettempdir()):
        path = os.path.join(parent, "cie-sandbox-uids")
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    raise OSError("no writable directory for the sandbox uid locks")


class UidsExhausted(RuntimeError):
    """Every uid of the range is held."""


class HostUids:
    """Hands out uids from [base, base + SPAN), never one another holder has."""

    def __init__(self, base: int, directory: str | None = None) -> None:
        self._base = base
        self._directory = directory  # found on the first take (only root takes uids)
        self._next = itertools.cycle(range(base, base + SPAN))
        self._held: dict[int, int] = {}  # uid -> the descriptor holding its lock

    @property
    def held(self) -> set[int]:
        """The uids this instance holds."""
        return set(self._held)

    def take(self) -> int | None:
        """A free uid, now held; None when not root (the sandbox then runs as our own uid)."""
        if os.geteuid() != 0:
            return None
        if self._directory is None:
            self._directory = lock_dir()
        directory = self._directory
        for _ in range(SPAN):
            uid = next(self._next)
            if uid in self._held:
                continue
            fd = os.open(os.path.join(directory, str(uid)), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._held[uid] = fd
            return uid
        raise UidsExhausted(f"every sandbox uid from {self._base} on is in use")

    def give_back(self, uid: int | None) -> None:
        """Release `uid` (twice is harmless)."""
        fd = self._held.pop(uid, None) if uid is not None else None
        if fd is not None:
            os.close(fd)
