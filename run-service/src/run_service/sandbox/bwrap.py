"""The bubblewrap command line and the root-only staging of paths a non-root uid cannot reach."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from run_service.sandbox import mounts
from run_service.sandbox.limits import SandboxLimits

WORKDIR = "/mnt/data"
WORKER_PATH = "/opt/cie/worker.py"
# A host directory that exists everywhere; in the child's private mount namespace a tmpfs is
# mounted over it to stage the bind sources (the host's own /mnt is never touched).
STAGING = "/mnt"


def bwrap_path() -> str | None:
    """The bwrap binary, if installed."""
    return shutil.which("bwrap")


def bwrap_works(exe: str) -> str | None:
    """None if bwrap can create the namespaces a session needs here, else why not.

    Installed is not enough: a container's default seccomp profile, AppArmor or a masked /proc
    stop it, and then every session would fail to start.
    """
    probe = [
        exe, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
        "--proc", "/proc", "--dev", "/dev", "true",
    ]  # fmt: skip
    try:
        done = subprocess.run(probe, env={}, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if done.returncode != 0:
        return done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
    return None


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
    # --size must come before the --tmpfs it applies to.
    cmd += ["--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    for bind in binds:
        cmd += ["--bind" if bind.writable else "--ro-bind", bind.source, bind.dest]
    for fd, dest in copies:  # small files copied from an fd into the tmpfs, owned by the sandbox
        cmd += ["--dir", os.path.dirname(dest), "--file", str(fd), dest]
    # bwrap's root is a private tmpfs; make it read-only too so only /mnt/data and /tmp take writes.
    cmd += ["--remount-ro", "/", "--chdir", WORKDIR]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    return [*cmd, *argv]


def staged(binds: Sequence[Bind]) -> tuple[list[Bind], Callable[[], None]]:
    """Rewrite bind sources to a staging tmpfs and return the root-side preexec that fills it.

    bwrap run by an unprivileged uid resolves sources with that uid's permissions, so an
    interpreter under /root (0700) is unreachable. As root, in the child's own private mount
    namespace, each source is bind-mounted below a fresh 0755 tmpfs first.
    """
    rewritten = [Bind(f"{STAGING}/{i}", b.dest, b.writable) for i, b in enumerate(binds)]
    sources = [b.source for b in binds]

    def prepare() -> None:
        m = mounts.Mounter()
        m.private_namespace()
        # Open every source before the tmpfs hides anything that lives under STAGING (and after
        # unshare: a bind source must belong to the namespace it is mounted in).
        fds = [os.open(src, os.O_PATH) for src in sources]
        m.tmpfs(STAGING)
        for i, fd in enumerate(fds):
            m.bind_fd(fd, f"{STAGING}/{i}")
            os.close(fd)

    return rewritten, prepare
