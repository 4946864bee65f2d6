"""The Sandbox port and its adapters: bubblewrap (namespaces + seccomp) and rlimits only."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from run_service.sandbox import bwrap, launch, mounts, mplcache, seccomp
from run_service.sandbox.limits import SandboxLimits
from run_service.sandbox.session import Session, SessionDied

log = logging.getLogger(__name__)


class Sandbox(Protocol):
    """Starts isolated worker sessions over a host directory."""

    limits: SandboxLimits

    def isolation_level(self) -> str:
        """A short description of the isolation this adapter actually provides."""
        ...

    async def start(self, workdir: Path) -> Session:
        """Start a worker whose working directory (and only writable place) is `workdir`."""
        ...


class _Uids:
    """Hands out distinct host uids so each session has its own RLIMIT_NPROC budget."""

    def __init__(self, base: int) -> None:
        self._next = itertools.cycle(range(base, base + 50_000))
        self._used: set[int] = set()

    def take(self) -> int | None:
        if os.geteuid() != 0:
            return None  # cannot switch: the sandbox runs as the service's own uid
        uid = next(self._next)
        while uid in self._used:
            uid = next(self._next)
        self._used.add(uid)
        return uid

    def give_back(self, uid: int | None) -> None:
        self._used.discard(uid)


def _own(workdir: Path, uid: int | None) -> None:
    """Hand the workdir tree to the session uid without following symlinks."""
    if uid is None:
        return
    os.lchown(workdir, uid, uid)
    os.chmod(workdir, 0o700)
    for dirpath, dirnames, filenames in os.walk(workdir):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, uid)


class _Base:
    limits: SandboxLimits

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self._uids = _Uids(self.limits.uid_base)

    async def _spawn(
        self,
        argv: list[str],
        workdir: Path,
        uid: int | None,
        pre: Callable[[], None],
        env: dict[str, str],
        pass_fds: tuple[int, ...] = (),
        cwd: str | None = None,
    ) -> Session:
        await asyncio.to_thread(_own, workdir, uid)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            pass_fds=pass_fds,
            start_new_session=True,
            preexec_fn=launch.preexec(self.limits, uid, pre),
            limit=16 * 1024 * 1024,
        )
        session = Session(proc, workdir, self.limits, uid)
        try:
            await session.wait_ready()
        except (SessionDied, TimeoutError):
            await session.kill()
            self._uids.give_back(uid)
            raise
        proc_done = asyncio.ensure_future(proc.wait())
        proc_done.add_done_callback(lambda _: self._uids.give_back(uid))
        session.watchers.append(proc_done)
        return session


class BubblewrapSandbox(_Base):
    """Every namespace, no network, no caps, read-only system, seccomp, a non-root host uid."""

    def isolation_level(self) -> str:
        """Report what is enforced."""
        parts = ["bubblewrap", "namespaces:user,pid,net,ipc,uts,cgroup,mount", "rlimits"]
        if seccomp.seccomp_available():
            parts.append("seccomp")
        parts.append("host-uid:per-session" if os.geteuid() == 0 else "host-uid:service")
        return "+".join(parts)

    async def start(self, workdir: Path) -> Session:
        """Start a worker under bwrap."""
        exe = bwrap.bwrap_path()
        if exe is None:
            raise RuntimeError("bubblewrap (bwrap) is not installed")
        uid = self._uids.take()
        venv, home = launch.venv_dir(), launch.python_home()
        binds = [bwrap.Bind(home, home)]
        if venv != home:
            binds.append(bwrap.Bind(venv, venv))
        binds.append(bwrap.Bind(str(launch.WORKER_SOURCE), bwrap.WORKER_PATH))
        binds.append(bwrap.Bind(str(workdir), bwrap.WORKDIR, writable=True))
        prepare: Callable[[], None] = lambda: None  # noqa: E731
        if uid is not None:
            binds, prepare = bwrap.staged(binds)
        fds: list[int] = []
        copies: list[tuple[int, str]] = []
        cache = await asyncio.to_thread(mplcache.font_cache)
        if cache is not None:
            fds.append(os.open(cache, os.O_RDONLY))
            copies.append((fds[-1], f"{mplcache.SANDBOX_DIR}/{cache.name}"))
        seccomp_fd = seccomp.build_filter_fd() if seccomp.seccomp_available() else None
        if seccomp_fd is not None:
            fds.append(seccomp_fd)
        env = launch.sandbox_env(self.limits)
        python = os.path.join(venv, "bin", "python")
        worker = [python, "-I", bwrap.WORKER_PATH]
        argv = bwrap.command(exe, binds, env, worker, self.limits, seccomp_fd, copies)
        try:
            # Trap 1: bwrap itself gets an empty environment; the worker only the allow-list.
            return await self._spawn(argv, workdir, uid, prepare, {}, tuple(fds))
        finally:
            for fd in fds:
                os.close(fd)


class RlimitSandbox(_Base):
    """Fallback without bubblewrap: rlimits, an allow-listed env and a non-root uid only."""

    def isolation_level(self) -> str:
        """Report what is enforced (much less than bubblewrap)."""
        who = "host-uid:per-session" if os.geteuid() == 0 else "host-uid:service"
        return f"rlimits-only+{who} (NO namespaces, network or filesystem isolation)"

    async def start(self, workdir: Path) -> Session:
        """Start a worker as a plain child process."""
        uid = self._uids.take()
        tmp = await asyncio.to_thread(_private_tmp, uid)
        env = launch.sandbox_env(self.limits, tmp=tmp)
        python = os.path.join(launch.venv_dir(), "bin", "python")
        argv = [python, "-I", str(launch.WORKER_SOURCE)]
        needed = [launch.python_home(), launch.venv_dir(), str(launch.WORKER_SOURCE)]
        prepare: Callable[[], None] = lambda: None  # noqa: E731
        if uid is not None and any(mounts.closed_ancestor(p) for p in needed):
            # As root, dropping to a uid that cannot reach the interpreter (e.g. under /root):
            # expose just those paths in the child's private mount namespace.
            prepare = functools.partial(mounts.expose, needed)
        try:
            session = await self._spawn(argv, workdir, uid, prepare, env, cwd=str(workdir))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        done = asyncio.ensure_future(session.proc.wait())
        done.add_done_callback(lambda _: shutil.rmtree(tmp, ignore_errors=True))
        session.watchers.append(done)
        return session


def _private_tmp(uid: int | None) -> str:
    """A per-session temp/home dir for the fallback, seeded with the matplotlib font cache."""
    tmp = tempfile.mkdtemp(prefix="cie-sbx-")
    cache = mplcache.font_cache()
    if cache is not None:
        os.mkdir(f"{tmp}/.matplotlib")
        shutil.copy(cache, f"{tmp}/.matplotlib/{cache.name}")
    if uid is not None:
        _own(Path(tmp), uid)
    return tmp


def default_sandbox(limits: SandboxLimits | None = None) -> Sandbox:
    """Bubblewrap when it works here, else the rlimit fallback with a loud warning."""
    exe = bwrap.bwrap_path()
    if exe is None:
        why = "bubblewrap is NOT installed"
    else:
        failure = bwrap.bwrap_works(exe)
        if failure is None:
            return BubblewrapSandbox(limits)
        why = f"bubblewrap is installed but cannot create namespaces here ({failure})"
    log.warning(
        "%s: sandboxed code runs with rlimits only, without namespace, network or filesystem "
        "isolation, and can read this service's environment. Fix this before running "
        "untrusted code (deploy/README.md says what containers need).",
        why,
    )
    return RlimitSandbox(limits)
