"""Root-only mount helpers run in the forked child, inside its own private mount namespace.

They exist because a non-root uid cannot reach an interpreter under /root (mode 0700): the
child, still root, rearranges its private view of the filesystem before dropping privileges.
The host's mount table is never touched.
"""

from __future__ import annotations

import ctypes
import os
import stat
import subprocess
import sys
import tempfile

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18


def _check(ret: int) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class Mounter:
    """Thin ctypes wrapper around unshare(2) and mount(2)."""

    def __init__(self) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)

    def private_namespace(self) -> None:
        """Enter a new mount namespace whose changes never propagate to the host."""
        _check(self.libc.unshare(_CLONE_NEWNS))
        _check(self.libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None))

    def private_user_namespace(self) -> None:
        """As a non-root uid: a user namespace mapping only that uid (and gid) to itself, and
        a mount namespace it owns, so mounts are allowed there and nowhere else."""
        uid, gid = os.getuid(), os.getgid()
        _check(self.libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS))
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                           ("gid_map", f"{gid} {gid} 1")):  # fmt: skip
            with open(f"/proc/self/{name}", "w") as out:
                out.write(text)
        _check(self.libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None))

    def tmpfs(self, target: str) -> None:
        """A small world-traversable tmpfs over `target`."""
        _check(self.libc.mount(b"tmpfs", target.encode(), b"tmpfs", 0, b"mode=0755,size=64k"))

    def bind_fd(self, fd: int, target: str) -> None:
        """Bind the object behind an O_PATH fd onto `target` (created as dir or file)."""
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        _check(
            self.libc.mount(
                f"/proc/self/fd/{fd}".encode(), target.encode(), None, _MS_BIND | _MS_REC, None
            )
        )


def closed_ancestor(path: str) -> str | None:
    """The first ancestor directory of `path` that others cannot traverse, if any."""
    current = "/"
    for part in path.strip("/").split("/")[:-1]:
        current = os.path.join(current, part)
        if not os.stat(current).st_mode & stat.S_IXOTH:
            return current
    return None


def present_workdir(workdir: str, at: str, needed: list[str]) -> None:
    """Show `workdir` at `at` (e.g. /mnt/data) in a private mount namespace and enter it.

    The parent of `at` gets a fresh tmpfs first, so nothing is created on the host. `needed`
    paths that this hides, and (as root, who then drops to another uid) those below a closed
    ancestor, are bound back. As anyone but root, an own user namespace allows the mounts.
    """
    m = Mounter()
    as_root = os.geteuid() == 0
    if as_root:
        m.private_namespace()
    else:
        m.private_user_namespace()
    parent = os.path.dirname(at)
    hidden = {p: a for p in needed if (a := closed_ancestor(p))} if as_root else {}
    hidden.update({p: parent for p in needed if os.path.commonpath([p, parent]) == parent})
    # Opened after unshare (a bind source must belong to this namespace), before any tmpfs.
    work_fd = os.open(workdir, os.O_PATH)
    fds = {p: os.open(p, os.O_PATH) for p in hidden}
    m.tmpfs(parent)
    for ancestor in sorted(set(hidden.values()) - {parent}):
        m.tmpfs(ancestor)
    for path, fd in fds.items():
        m.bind_fd(fd, path)
        os.close(fd)
    m.bind_fd(work_fd, at)
    os.close(work_fd)
    os.chdir(at)


_PRESENT_PROBE = (
    "import os, sys\n"
    "from run_service.sandbox.mounts import present_workdir\n"
    "present_workdir(sys.argv[1], sys.argv[2], [])\n"
    "print(os.getcwd())\n"
)


def cannot_present(at: str) -> str | None:
    """None if `present_workdir` works here, else why not (a mount namespace refused)."""
    with tempfile.TemporaryDirectory(prefix="cie-mounts-") as workdir:
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-c", _PRESENT_PROBE, workdir, at],
                env={},
                capture_output=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as error:
            return f"{type(error).__name__}: {error}"
    if done.returncode == 0 and done.stdout.decode().strip() == at:
        return None
    said = done.stderr.decode(errors="replace").strip().splitlines()
    return said[-1] if said else f"exit status {done.returncode}"
