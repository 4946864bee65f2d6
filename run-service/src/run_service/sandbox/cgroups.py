"""A control group per session: memory, CPU and process limits for the session as a whole.

rlimits bound each process; a session may fork, and three children of 700 MiB each are
2.1 GiB. A session's group caps what all its processes hold together (memory, swap included),
gives it an equal CPU share with a ceiling, and counts its processes. Where the host lets us
(root, or a delegated cgroup v2 subtree), each session gets one; elsewhere `NoGroups` says why,
and /readyz and the start-up log say which limits are in force.

Layout: `<our cgroup>/cie-sandbox/p<our pid>/<session>` in every controller we use, so several
run-service processes on one host never touch each other's groups; a process that died leaves
an empty `p<pid>` that the next one to start removes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from run_service.sandbox.limits import MiB, SandboxLimits

CPU_PERIOD_US = 100_000
_PARENT = "cie-sandbox"


class SessionGroup(Protocol):
    """One session's group, created before its process starts."""

    def enter(self) -> None:
        """Move the calling process in (the spawned child, before it execs)."""
        ...

    def pids(self) -> list[int]:
        """Every process in the group now (host pids)."""
        ...

    def oom_kills(self) -> int:
        """How many of its processes the kernel killed for going over the memory limit."""
        ...

    def remove(self, timeout: float = 5.0) -> bool:
        """Kill whatever is still in it, wait until it is empty, then delete it.
        False if processes remained after `timeout` (the group then stays)."""
        ...


class SessionGroups(Protocol):
    """Makes session groups, or cannot here."""

    def create(self) -> SessionGroup | None:
        """A new group with the session limits written, or None where groups are not had."""
        ...

    def in_force(self) -> str:
        """Which session-wide limits hold, for the start-up log and /readyz."""
        ...

    def release(self) -> None:
        """Remove what holds the sessions' groups, once they are gone (at shutdown)."""
        ...


class NoGroups:
    """No session groups here: only per-process rlimits bound a session."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def create(self) -> SessionGroup | None:
        """None: sessions start without a group."""
        return None

    def in_force(self) -> str:
        """Says what is missing and why."""
        return f"no session cgroup ({self.reason}): memory and processes limited per process"

    def release(self) -> None:
        """Nothing to remove."""


@dataclass(frozen=True)
class _Knobs:
    """The file names of one cgroup version, and how its values are written."""

    version: int
    memory: str
    swap: str
    oom_events: str

    def swap_value(self, memory: int) -> str:
        """v1 limits memory and swap together, so the same figure means no swap; v2 limits
        swap alone."""
        return str(memory) if self.version == 1 else "0"

    def cpu_writes(self, cpus: float) -> list[tuple[str, str]]:
        """A ceiling of `cpus` CPUs (none for 0); the share is the default weight, equal for
        every session."""
        if cpus <= 0:
            return []
        quota = str(int(cpus * CPU_PERIOD_US))
        if self.version == 1:
            return [("cpu.cfs_period_us", str(CPU_PERIOD_US)), ("cpu.cfs_quota_us", quota)]
        return [("cpu.max", f"{quota} {CPU_PERIOD_US}")]


V1 = _Knobs(1, "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.oom_control")
V2 = _Knobs(2, "memory.max", "memory.swap.max", "memory.events")


class CgroupGroup:
    """A session's directory in each controller's hierarchy (one directory in cgroup v2)."""

    def __init__(self, dirs: dict[str, Path], knobs: _Knobs) -> None:
        self.dirs = dirs  # controller -> directory ("memory", "cpu", "pids")
        self.knobs = knobs
        self._removed_with: int | None = None  # oom kills counted when it was removed

    def enter(self) -> None:
        """Write our pid into every hierarchy (v2: one write moves us in all controllers)."""
        pid = str(os.getpid())
        for directory in dict.fromkeys(self.dirs.values()):
            (directory / "cgroup.procs").write_text(pid)

    def pids(self) -> list[int]:
        """Every process in the group, from the hierarchy that counts them all."""
        return _members(self.dirs.get("pids") or next(iter(self.dirs.values())))

    def oom_kills(self) -> int:
        """The kernel's count, from `memory.oom_control` (v1) or `memory.events` (v2); once
        the group is removed (its session died of it, say), the count it had then."""
        if self._removed_with is not None:
            return self._removed_with
        try:
            text = (self.dirs["memory"] / self.knobs.oom_events).read_text()
        except (OSError, KeyError):
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self, timeout: float = 5.0) -> bool:
        """SIGKILL every member until none is left, then rmdir each directory."""
        kills = self.oom_kills()
        removed = _remove_group(self.dirs.values(), timeout)
        if removed:
            self._removed_with = kills
        return removed


def _members(directory: Path) -> list[int]:
    try:
        return [int(line) for line in (directory / "cgroup.procs").read_text().split()]
    except OSError:  # gone already
        return []


def _remove_group(directories: Iterable[Path], timeout: float) -> bool:
    """Kill the members of a group's directories until none is left, then rmdir them.
    False (and the directories stay) if processes remained after `timeout`."""
    deadline = time.monotonic() + timeout
    unique = list(dict.fromkeys(directories))
    while pids := {pid for directory in unique for pid in _members(directory)}:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    for directory in unique:
        _rmdir_patiently(directory, deadline)
    return True


def _rmdir_patiently(directory: Path, deadline: float) -> None:
    """rmdir; a group whose last member is still exiting is briefly busy."""
    while True:
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                return
            time.sleep(0.01)


class CgroupGroups:
    """Session groups under `parents` (controller -> our process's own parent directory)."""

    def __init__(self, parents: dict[str, Path], knobs: _Knobs, limits: SandboxLimits) -> None:
        self.parents = parents
        self.knobs = knobs
        self.limits = limits

    def create(self) -> SessionGroup | None:
        """A new group with memory (swap included), CPU and process limits written."""
        name = uuid.uuid4().hex[:16]
        dirs = {controller: parent / name for controller, parent in self.parents.items()}
        group = CgroupGroup(dirs, self.knobs)
        try:
            for directory in dict.fromkeys(dirs.values()):
                directory.mkdir()
            for knob, value in self._writes():
                controller = knob.partition(".")[0]
                path = dirs[controller] / knob
                if knob == self.knobs.swap and not path.exists():
                    continue  # a kernel without swap accounting: nothing to limit there
                path.write_text(value)
        except BaseException:
            group.remove(0.0)
            raise
        return group

    def _writes(self) -> list[tuple[str, str]]:
        limits = self.limits
        memory = str(limits.session_memory_bytes)
        writes = [
            (self.knobs.memory, memory),
            (self.knobs.swap, self.knobs.swap_value(limits.session_memory_bytes)),
        ]
        writes += self.knobs.cpu_writes(limits.session_cpus)
        if "pids" in self.parents:
            writes.append(("pids.max", str(limits.max_processes)))
        return writes

    def in_force(self) -> str:
        """The session-wide limits written into every group."""
        limits = self.limits
        version = f"v{self.knobs.version}"
        parts = [f"memory {limits.session_memory_bytes // MiB} MiB"]
        if limits.session_cpus > 0:
            parts.append(f"cpu {limits.session_cpus:g}")
        if "pids" in self.parents:
            parts.append(f"pids {limits.max_processes}")
        return f"session cgroup {version}: " + ", ".join(parts)

    def release(self) -> None:
        """rmdir our parents; one still holding a group (another pool of ours) stays."""
        for parent in dict.fromkeys(self.parents.values()):
            with contextlib.suppress(OSError):
                parent.rmdir()


# --- finding our place in the hierarchy ------------------------------------------------------

_CONTROLLERS = ("memory", "cpu", "pids")


def session_groups(limits: SandboxLimits, proc: Path = Path("/proc")) -> SessionGroups:
    """Session groups where this host lets us make them (checked by making one and starting a
    process in it), else NoGroups with the reason."""
    if limits.session_memory_bytes <= 0:
        return NoGroups("turned off: CIE_SANDBOX_SESSION_MEMORY_MB=0")
    try:
        groups = _cgroup_groups(limits, proc)
        _try(groups)
    except (OSError, ValueError, subprocess.SubprocessError) as error:
        return NoGroups(_why(error))
    return groups


def _why(error: BaseException) -> str:
    if isinstance(error, PermissionError):
        return f"not allowed to create one here ({error.strerror}: {error.filename})"
    return f"{type(error).__name__}: {error}"


def _try(groups: CgroupGroups) -> None:
    """Make a group and start a process in it: a host may allow the first and not the second."""
    group = groups.create()
    assert group is not None
    try:
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", ""],
            preexec_fn=group.enter,
            check=True,
            timeout=30,
            env={},
        )
    finally:
        group.remove()


def _cgroup_groups(limits: SandboxLimits, proc: Path) -> CgroupGroups:
    own = _own_cgroups((proc / "self/cgroup").read_text())
    mounts = _cgroup_mounts((proc / "self/mountinfo").read_text())
    if all(controller in mounts for controller in ("memory", "cpu")):
        parents = {
            controller: _place(mounts[controller], own.get(controller, "/"))
            for controller in _CONTROLLERS
            if controller in mounts
        }
        return CgroupGroups(_our_parents(parents, proc), V1, limits)
    if "" in mounts:
        directory = _place(mounts[""], own.get("", "/"))
        return CgroupGroups(_v2_parents(directory, proc), V2, limits)
    raise ValueError("no cgroup hierarchy with the memory and cpu controllers is mounted")


@dataclass(frozen=True)
class _Mount:
    root: str
    point: Path


def _own_cgroups(text: str) -> dict[str, str]:
    """controller -> our cgroup path, from /proc/self/cgroup ("" is cgroup v2's)."""
    own: dict[str, str] = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            own[controller] = path
    return own


def _cgroup_mounts(text: str) -> dict[str, _Mount]:
    """controller -> where its hierarchy is mounted ("" for cgroup v2's unified one)."""
    mounts: dict[str, _Mount] = {}
    for line in text.splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        mount = _Mount(fields[3], Path(fields[4]))
        if tail[0] == "cgroup2":
            mounts.setdefault("", mount)
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                if option in _CONTROLLERS:
                    mounts.setdefault(option, mount)
    return mounts


def _place(mount: _Mount, path: str) -> Path:
    """Our cgroup's directory under `mount` (whose root may be a part of the hierarchy)."""
    if mount.root != "/" and path.startswith(mount.root):
        path = path[len(mount.root) :]
    return mount.point / path.lstrip("/")


def _our_parents(own: dict[str, Path], proc: Path) -> dict[str, Path]:
    """`<own>/cie-sandbox/p<pid>` in each hierarchy, after removing what dead processes left."""
    parents: dict[str, Path] = {}
    for controller, directory in own.items():
        shared = directory / _PARENT
        shared.mkdir(exist_ok=True)
        _remove_stale(shared, proc)
        parents[controller] = shared / f"p{os.getpid()}"
        parents[controller].mkdir(exist_ok=True)
    return parents


def _v2_parents(own: Path, proc: Path) -> dict[str, Path]:
    """cgroup v2: controllers must be enabled down to the parent, and a group with
    processes cannot hand them to children ("no internal processes"). Untested on a real v2
    host here (CI's machine is v1); `_try` then finds out whether sessions can be limited."""
    shared = own / _PARENT
    shared.mkdir(exist_ok=True)
    wanted = "+memory +cpu +pids"
    try:
        (own / "cgroup.subtree_control").write_text(wanted)
    except OSError as error:
        if error.errno != errno.EBUSY:
            raise
        # Our own group holds processes (us), so it cannot hand controllers to children: move
        # this process into a leaf of its own, as delegated services do, and try again.
        leaf = own / "cie-service"
        leaf.mkdir(exist_ok=True)
        (leaf / "cgroup.procs").write_text(str(os.getpid()))
        (own / "cgroup.subtree_control").write_text(wanted)
    (shared / "cgroup.subtree_control").write_text(wanted)
    _remove_stale(shared, proc)
    ours = shared / f"p{os.getpid()}"
    ours.mkdir(exist_ok=True)
    (ours / "cgroup.subtree_control").write_text(wanted)
    return dict.fromkeys(_CONTROLLERS, ours)


def _remove_stale(shared: Path, proc: Path) -> None:
    """Remove `p<pid>` groups of processes that are gone (their sessions died with them)."""
    for entry in shared.iterdir():
        if entry.name.startswith("p") and entry.name[1:].isdigit():
            if (proc / entry.name[1:]).exists():
                continue
            for child in entry.iterdir():
                if child.is_dir():
                    _remove_group([child], 1.0)
            _rmdir_patiently(entry, time.monotonic() + 1.0)
