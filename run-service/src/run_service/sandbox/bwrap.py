"""The bubblewrap command line and the root-only staging of paths a non-root uid cannot reach."""

from __future__ import annotations

import ctypes
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from run_service.sandbox.limits import SandboxLimits

WORKDIR = "/mnt/data"
WORKER_PATH = "/opt/cie/worker.py"
# A host directory that exists everywhere; in the child's private mount namespace a tmpfs is
# mounted over it to stage the bind sources (the host's own /mnt is never touched).
STAGING = "/mnt"

_CLONE_NEWNS = 0x00020000
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18


def bwrap_path() -> str | None:
    """The bwrap binary, if installed."""
    return shutil.which("bwrap")


@dataclass(frozen=True)
class Bind:
    """A host path made visible read-only (or writable) at the same or another path inside."""

    source: str
    dest: str
    writable: bool = False


def command(
    bwrap: str,
    binds: Sequence[Bind],
    env: dict[str, str],
    argv: Sequence[str],
    limits: SandboxLimits,
    seccomp_fd: int | None,
) -> list[str]:
    """Build the bwrap argv: every namespace, no caps, a minimal read-only root."""
    cmd = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns"]
    cmd += ["--uid", "65534", "--gid", "65534", "--die-with-parent", "--new-session"]
    cmd += ["--cap-drop", "ALL", "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for link in ("lib", "lib64", "bin", "sbin"):
        cmd += ["--symlink", f"usr/{link}", f"/{link}"]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    # --size must come before the --tmpfs it applies to.
    cmd += ["--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    for bind in binds:
        cmd += ["--bind" if bind.writable else "--ro-bind", bind.source, bind.dest]
    # bwrap's root is a private tmpfs; make it read-only too so only /mnt/data and /tmp take writes.
    cmd += ["--remount-ro", "/", "--chdir", WORKDIR]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    return [*cmd, *argv]


def _check(ret: int) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def staged(binds: Sequence[Bind]) -> tuple[list[Bind], Callable[[], None]]:
    """Rewrite bind sources to a staging tmpfs and return the root-side preexec that fills it.

    bwrap run by an unprivileged uid resolves sources with that uid's permissions, so an
    interpreter under /root (0700) is unreachable. As root, in the child's own private mount
    namespace, each source is bind-mounted below a fresh 0755 tmpfs first.
    """
    rewritten = [Bind(f"{STAGING}/{i}", b.dest, b.writable) for i, b in enumerate(binds)]
    sources = [b.source for b in binds]

    def prepare() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        _check(libc.unshare(_CLONE_NEWNS))
        _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None))
        # Open every source before the tmpfs hides anything that lives under STAGING (and after
        # unshare: a bind source must belong to the namespace it is mounted in).
        fds = [os.open(src, os.O_PATH) for src in sources]
        _check(libc.mount(b"tmpfs", STAGING.encode(), b"tmpfs", 0, b"mode=0755,size=64k"))
        for i, fd in enumerate(fds):
            target = f"{STAGING}/{i}"
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.mkdir(target)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
            src = f"/proc/self/fd/{fd}".encode()
            _check(libc.mount(src, target.encode(), None, _MS_BIND | _MS_REC, None))
            os.close(fd)

    return rewritten, prepare
