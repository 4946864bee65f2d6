"""Orphans of a session come back to the service, which reaps them before reusing the uid.

bwrap's monitor exits as soon as the namespace's init reports the code's exit status, without
waiting for that init: the init is orphaned. Left to the host's init (or to nobody, where the
service is PID 1 of a container), it stays a zombie that still counts against its uid's
RLIMIT_NPROC, so the uid's next session would start with a process it does not have. As a
child subreaper the service receives such orphans, and `reap_orphans` collects those of a uid.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make orphaned descendants our children (Linux 3.4+); False where refused."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def reap_orphans(uid: int, timeout: float = 2.0) -> list[int]:
    """Wait for (reap) every child of ours that runs as `uid`: only orphans of a session have
    it (the session's own process is reaped by whoever started it). Returns their pids."""
    deadline = time.monotonic() + timeout
    reaped: list[int] = []
    for pid in _children_of_ours(uid):
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else meanwhile: fine
                break
            if done:
                reaped.append(pid)
                break
            time.sleep(0.005)
    return reaped


def processes_of(uid: int) -> list[int]:
    """Every process (zombies too) running as `uid`."""
    return [pid for pid, _parent in _processes(uid)]


def _children_of_ours(uid: int) -> list[int]:
    me = os.getpid()
    return [pid for pid, parent in _processes(uid) if parent == me]


def _processes(uid: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of each process whose real uid is `uid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError, KeyError):
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                found.append((int(entry), int(fields["PPid"])))
    return found
