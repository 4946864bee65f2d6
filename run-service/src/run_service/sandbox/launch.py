"""What both adapters share: the interpreter to run, its environment, rlimits and uid drop."""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path

from run_service.sandbox.cgroups import SessionGroup
from run_service.sandbox.limits import SandboxLimits

WORKER_SOURCE = Path(__file__).with_name("worker.py")


def venv_dir() -> str:
    """The environment whose interpreter and site-packages the sandbox runs (ours)."""
    return sys.prefix


def python_home() -> str:
    """The base interpreter installation the venv points at (may live under /root)."""
    return os.path.realpath(sys.base_prefix)


def sandbox_env(limits: SandboxLimits, *, tmp: str = "/tmp", reap: bool = True) -> dict[str, str]:
    """The whole environment the sandbox gets: an allow-list, never the service's env.

    HOME and the caches point into `tmp` so nothing litters the user-visible /mnt/data.
    """
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": tmp,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{tmp}/.matplotlib",
        "XDG_CACHE_HOME": f"{tmp}/.cache",
        # Single-threaded BLAS keeps thread counts under RLIMIT_NPROC and memory predictable.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CIE_STREAM_CAP": str(limits.stream_cap_bytes),
        "CIE_PRELOAD": ",".join(limits.preload),
        # Kill every other process the session's uid has when a cell ends: only where that
        # uid (or pid namespace) is the session's own, never the service's.
        "CIE_REAP": "1" if reap else "0",
    }


def apply_rlimits(limits: SandboxLimits) -> None:
    """Set rlimits in the forked child before exec; they are inherited by everything below."""
    for res, value in (
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_NPROC, limits.max_processes),
        (resource.RLIMIT_FSIZE, limits.max_file_bytes),
        (resource.RLIMIT_NOFILE, limits.max_open_files),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(res, (value, value))


def drop_to(uid: int | None) -> None:
    """Become `uid` (root only): RLIMIT_NPROC is ignored for root, and files land as root."""
    if uid is None:
        return
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def seal_inherited() -> None:
    """Mark every descriptor of this process but stdio close-on-exec, just before a spawn.

    subprocess's close_fds would keep them from a child, but uvloop's spawn (the event loop
    uvicorn picks) ignores it: a descriptor the service inherited without CLOEXEC (a
    supervisor's pipe, a socket, a secret file) would reach the sandbox, and through it the
    user's code. Python opens its own files close-on-exec, so only inherited ones change;
    `pass_fds` are made inheritable again in the child by the spawner.
    """
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):  # e.g. the listing's own, now closed, fd
                flags = fcntl.fcntl(fd, fcntl.F_GETFD)
                if not flags & fcntl.FD_CLOEXEC:
                    fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)


def preexec(
    limits: SandboxLimits,
    uid: int | None,
    before: Callable[[], None],
    group: SessionGroup | None = None,
) -> Callable[[], None]:
    """Compose the child-side setup: into the session's cgroup (before anything can fork),
    privileged steps, rlimits, then the uid drop."""

    def run() -> None:
        if group is not None:
            group.enter()
        before()
        apply_rlimits(limits)
        drop_to(uid)

    return run
