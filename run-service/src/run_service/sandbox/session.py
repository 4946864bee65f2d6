"""One live sandboxed worker process and the host side of its JSON-lines protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from run_service.sandbox import files, reaping
from run_service.sandbox.cgroups import SessionGroup
from run_service.sandbox.limits import MiB, SandboxLimits
from run_service.sandbox.quota import POLL_S, DataQuota

log = logging.getLogger(__name__)
_LINE_LIMIT = 16 * 1024 * 1024  # replies carry two capped streams, JSON-escaped


class SessionDied(Exception):
    """The worker exited or stopped answering; its Python state is gone."""


@dataclass
class ExecResult:
    """What one execution produced; `files` are paths relative to the workdir."""

    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    error: dict[str, str] | None = None
    duration_ms: float = 0.0
    files: list[str] = field(default_factory=list)
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    files_truncated: bool = False
    timed_out: bool = False
    state_lost: bool = False  # the session died: variables are gone, files are intact
    notice: str | None = None


class Session:
    """A worker process in its sandbox, serving one execution at a time."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        workdir: Path,
        limits: SandboxLimits,
        uid: int | None,
        group: SessionGroup | None = None,
        monitor: bool = False,
    ) -> None:
        self.proc = proc
        self.group = group  # its cgroup, where the host gives it one
        # `proc` is bwrap's monitor: it reaps the pid namespace and exits when that ends.
        self.monitor = monitor
        self.workdir = workdir
        self.limits = limits
        self.uid = uid
        self.last_used = time.monotonic()
        self.last_run: str | None = None  # the run whose code ran here last (SessionPool.align)
        self._lock = asyncio.Lock()
        self.watchers: list[asyncio.Future[int]] = []  # exit callbacks (uid release, cleanup)

    @property
    def busy(self) -> bool:
        """True while an execution is running."""
        return self._lock.locked()

    @property
    def alive(self) -> bool:
        """True while the worker process is running."""
        return self.proc.returncode is None

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait for the worker's ready line (it preloads libraries first)."""
        reply = await asyncio.wait_for(self._read(), timeout)
        if not reply.get("ready"):
            raise SessionDied(f"unexpected first line {reply!r}")

    async def _read(self, expect: str | None = None) -> dict[str, Any]:
        """The next reply; with `expect`, it must carry that request id. Code in the cell can
        write to the reply channel: a line that is not a reply to this request (garbage, too
        long, forged, or a reply that a forged one pushed late) ends the session."""
        assert self.proc.stdout is not None
        while True:
            try:
                line = await self.proc.stdout.readline()
            except ValueError:  # past the line limit
                line = b"-"  # not a reply either
            if not line:
                await self.proc.wait()
                raise SessionDied(f"worker exited with code {self.proc.returncode}")
            reply = _as_reply(line)
            if reply is not None and reply.get("interrupted_idle"):  # a late interrupt
                continue
            if reply is None or (expect is not None and reply.get("id") != expect):
                # Whatever comes out of the sandbox is untrusted: a broken protocol ends the
                # session (its next reply could belong to another cell), never the service.
                await self.kill()
                raise SessionDied("the sandbox broke its reply protocol")
            return reply

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")

    async def execute(self, code: str, timeout: float | None = None) -> ExecResult:
        """Run a cell; on timeout interrupt, wait a grace period, then kill the whole tree."""
        async with self._lock:
            try:
                return await self._execute(code, timeout or self.limits.exec_timeout_s)
            finally:
                self.last_used = time.monotonic()

    async def _execute(self, code: str, timeout: float) -> ExecResult:
        """Run the cell under the /mnt/data quota; the answer says which limit it hit."""
        oom_kills = self._oom_kills()
        quota = DataQuota(self.limits, self.workdir)
        watcher = None
        if quota.enforced:
            if quota.limits_writes:
                await asyncio.to_thread(quota.check, self._pids)
            watcher = asyncio.ensure_future(self._watch_quota(quota))
        try:
            result = await self._run_cell(code, timeout)
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        memory = None
        if self._oom_kills() > oom_kills:
            memory = (
                f"A process of this session went over the session's memory limit "
                f"({self.limits.session_memory_bytes // MiB} MiB for all its processes "
                "together) and was killed."
            )
        full = await asyncio.to_thread(quota.notice)
        result.notice = " ".join(part for part in (memory, result.notice, full) if part) or None
        return result

    def _oom_kills(self) -> int:
        return self.group.oom_kills() if self.group is not None else 0

    def _pids(self) -> list[int]:
        """The session's processes: its group's, else its own uid's (root), else unknown."""
        if self.group is not None:
            return self.group.pids()
        return reaping.processes_of(self.uid) if self.uid is not None else []

    async def _watch_quota(self, quota: DataQuota) -> None:
        """While the cell runs: lower what its processes may write as /mnt/data fills, or,
        where their writes cannot be limited, interrupt the cell once it is full."""
        while True:
            await asyncio.sleep(POLL_S)
            full = await asyncio.to_thread(quota.watch, self._pids)
            if full and not quota.limits_writes:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    self._send("interrupt")
                return

    async def _run_cell(self, code: str, timeout: float) -> ExecResult:
        before = await asyncio.to_thread(files.snapshot, self.workdir)
        started = time.perf_counter()
        # Random: a cell cannot guess it without digging in the worker's memory, and a reply it
        # forges anyway pushes the real one late, which then ends the session.
        request_id = secrets.token_hex(8)
        try:
            self._send(json.dumps({"op": "exec", "code": code, "id": request_id}))
        except (ConnectionError, RuntimeError) as exc:
            raise SessionDied(str(exc)) from exc
        pending = asyncio.ensure_future(self._read(request_id))
        timed_out = False
        reply: dict[str, Any] | None
        try:
            reply = await asyncio.wait_for(asyncio.shield(pending), timeout)
        except TimeoutError:
            timed_out = True
            reply = await self._interrupt(pending)
        except SessionDied:
            return await self._died(before, started, "the sandbox process exited")
        if reply is None:
            return await self._died(before, started, "execution timed out and was killed", True)
        result = self._to_result(
            reply, await asyncio.to_thread(files.snapshot, self.workdir), before
        )
        result.timed_out = timed_out
        if timed_out:
            result.notice = (
                f"The code ran past its {timeout:g} s time limit and was interrupted; "
                "the session and its variables are kept."
            )
        return result

    async def _interrupt(self, pending: asyncio.Future[dict[str, Any]]) -> dict[str, Any] | None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            self._send("interrupt")
        try:
            return await asyncio.wait_for(pending, self.limits.interrupt_grace_s)
        except (TimeoutError, SessionDied):
            await self.kill()
            return None

    async def _died(
        self, before: files.Snapshot, started: float, why: str, timed_out: bool = False
    ) -> ExecResult:
        await self.kill()
        after = await asyncio.to_thread(files.snapshot, self.workdir)
        res = self._to_result({}, after, before)
        res.duration_ms = (time.perf_counter() - started) * 1000
        res.timed_out, res.state_lost = timed_out, True
        res.error = {"type": "SandboxRestarted", "message": why, "traceback": ""}
        res.notice = f"{why}; the next execution starts a fresh session (files are kept)"
        return res

    def _to_result(
        self, reply: dict[str, Any], after: files.Snapshot, before: files.Snapshot
    ) -> ExecResult:
        new = files.changed(before, after)
        cap = self.limits.max_files_per_exec
        return ExecResult(
            stdout=reply.get("stdout", ""),
            stderr=reply.get("stderr", ""),
            result=reply.get("result"),
            error=reply.get("error"),
            duration_ms=reply.get("duration_ms", 0.0),
            files=new[:cap],
            files_truncated=len(new) > cap,
            stdout_truncated=reply.get("stdout_truncated", False),
            stderr_truncated=reply.get("stderr_truncated", False),
        )

    async def kill(self) -> None:
        """Kill the sandbox; bwrap's pid namespace takes every descendant with it."""
        if self.proc.returncode is None and self.monitor and self.group is not None:
            await self._kill_inside(self.group)
        if self.proc.returncode is None:
            # Both adapters start the launcher as a session leader: the group kill also reaches
            # rlimit-only children that did not setsid themselves.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        await self.proc.wait()
        await self._cleaned_up()

    async def _kill_inside(self, group: SessionGroup) -> None:
        """Kill what runs inside bwrap's monitor, and let the monitor reap it and exit.

        Killed together, the monitor would die first and leave the namespace's init to the
        host's init, a zombie still counted against the session uid until that one reaps it.
        """
        inside = [pid for pid in await asyncio.to_thread(group.pids) if pid != self.proc.pid]
        for pid in inside:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), 1.0)

    async def _cleaned_up(self) -> None:
        """Wait for the exit callbacks: its group emptied, its uid and directories given back."""
        if self.watchers:
            await asyncio.shield(asyncio.gather(*self.watchers, return_exceptions=True))

    async def close(self) -> None:
        """Ask the worker to exit by closing stdin, then make sure it is gone."""
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 1.0)
        except TimeoutError:
            await self.kill()
        await self._cleaned_up()


def _as_reply(line: bytes) -> dict[str, Any] | None:
    """The JSON object on `line`, or None if it is not one."""
    try:
        reply = json.loads(line)
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None
