"""The quota on a thread's /mnt/data: what its attachments and its code's files may take.

The host counts the directory's usage (blocks allocated, at least a block per entry, so a
directory of empty files counts too) every `POLL_S` while code runs. Where it may (root with
CAP_SYS_RESOURCE) it sets RLIMIT_FSIZE on every process of the session: each may extend no
file past what is left; once the quota is reached the limit is 0 and every write that would
extend a file fails inside the sandbox (EFBIG; Python raises OSError "File too large"), until
files are deleted (the next execution measures again). Elsewhere the cell is interrupted when
the quota is reached, like at its time limit.

This is not a filesystem quota: between two polls a cell can write past the quota what it
writes in that time (page-cache writes are fast: up to the per-file limit per file it writes
then); the next poll stops it, and the next execution starts with no room. A hard bound needs
a filesystem per thread (a loop-mounted image, or project quotas), which hosts rarely allow.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import resource
from collections.abc import Callable
from pathlib import Path

from run_service.sandbox.limits import MiB, SandboxLimits

log = logging.getLogger(__name__)

POLL_S = 0.1
_BLOCK = 4096
_CAP_SYS_RESOURCE = 24


@functools.cache
def can_limit_writes() -> bool:
    """Whether we may set another uid's RLIMIT_FSIZE: root with CAP_SYS_RESOURCE (containers
    drop it by default). Without it a cell that fills /mnt/data is stopped instead. Read once:
    a process's capabilities do not come back."""
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_SYS_RESOURCE & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def describe(limits: SandboxLimits) -> str:
    """How the quota is enforced here, for the start-up log and /readyz."""
    if limits.data_quota_bytes <= 0:
        return "no /mnt/data quota"
    how = "writes past it fail" if can_limit_writes() else "a cell that fills it is stopped"
    return f"/mnt/data quota {limits.data_quota_bytes // MiB} MiB ({how})"


def usage(root: Path, stop_at: int | None = None) -> int:
    """Bytes `root` takes on disk (symlinks not followed); the walk ends once `stop_at` is
    reached, so a directory bomb costs the host at most a quota's worth of entries."""
    total = 0
    stack = [str(root)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                found = entry.stat(follow_symlinks=False)
                total += max(found.st_blocks * 512, _BLOCK)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
            if stop_at is not None and total >= stop_at:
                return total
    return total


class DataQuota:
    """The quota of one workdir, and the file-size limit it leaves a session's processes."""

    def __init__(self, limits: SandboxLimits, workdir: Path) -> None:
        self.quota = limits.data_quota_bytes
        self.max_file = limits.max_file_bytes
        self.workdir = workdir
        self.reached = False  # at some point of the current execution
        self.limits_writes = can_limit_writes()

    @property
    def enforced(self) -> bool:
        """False when the quota is turned off (0)."""
        return self.quota > 0

    def used(self) -> int:
        """What the workdir takes now (counted up to just past the quota)."""
        return usage(self.workdir, stop_at=self.quota + 1)

    def room(self) -> int:
        """Bytes that may still be written."""
        return max(0, self.quota - self.used()) if self.enforced else self.max_file

    def check(self, pids: Callable[[], list[int]]) -> bool:
        """Measure, and set RLIMIT_FSIZE of every process `pids` names to what is left (at
        most the per-file limit) where we may. True when the quota is reached."""
        if not self.enforced:
            return False
        room = self.room()
        if self.limits_writes:
            limit = min(self.max_file, room)
            for pid in pids():
                try:
                    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, limit))
                except ProcessLookupError:  # it exited meanwhile
                    continue
                except PermissionError as error:  # e.g. a security module said no
                    log.warning("cannot limit the writes of process %d: %s", pid, error)
        return room == 0

    def watch(self, pids: Callable[[], list[int]]) -> bool:
        """`check` while the code runs: a quota reached now is said in the answer."""
        full = self.check(pids)
        self.reached = self.reached or full
        return full

    def notice(self) -> str | None:
        """What the answer says when the execution hit the quota."""
        if not self.enforced:
            return None
        used = self.used()
        if not self.reached and used < self.quota:
            return None
        what = "writes past that failed" if self.limits_writes else "the code was stopped"
        return (
            f"/mnt/data is full: this thread may keep {self.quota // MiB} MiB of files there "
            f"(it holds {used // MiB} MiB), so {what}. Delete files to make room."
        )
