"""Sessions keyed by thread id: a warm pool, idle expiry and LRU eviction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import stat
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from run_service.sandbox import files
from run_service.sandbox.quota import DataQuota
from run_service.sandbox.sandbox import Sandbox, SandboxUnavailable, chown_tree
from run_service.sandbox.session import ExecResult, Session, SessionDied

log = logging.getLogger(__name__)
_THREAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
LOST_NOTICE = "The Python session was restarted: variables and imports were lost; files are kept."


class SessionPool:
    """One persistent session per thread, claimed from pre-started warm sessions."""

    def __init__(self, sandbox: Sandbox, root: Path) -> None:
        self.sandbox = sandbox
        self.limits = sandbox.limits
        self.threads_dir = root / "threads"
        self.warm_dir = root / "warm"
        for d in (self.threads_dir, self.warm_dir):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o711)
        self._live: OrderedDict[str, Session] = OrderedDict()  # LRU order, oldest first
        self._warm: list[Session] = []
        self._lost: set[str] = set()  # threads whose session died: tell them on the next run
        self._locks: dict[str, asyncio.Lock] = {}
        self._refill: asyncio.Task[None] | None = None
        self._warmed = asyncio.Event()  # set whenever a warm session is added
        self._closed = False
        self.start_failure: str | None = None  # why the last session start failed, if it did
        self._reaper: asyncio.Task[None] | None = None

    @property
    def live_count(self) -> int:
        """Sessions bound to a thread."""
        return len(self._live)

    @property
    def warm_count(self) -> int:
        """Pre-started sessions waiting for a thread."""
        return len(self._warm)

    async def start(self) -> None:
        """Start filling the warm pool in the background, and the idle reaper.

        Nothing waits for the pool: a service answers at once, and a run that arrives before
        the first warm session is ready waits for it (`_claim`).
        """
        self._refill = asyncio.create_task(self._fill())
        self._reaper = asyncio.create_task(self._reap_forever())

    async def filled(self) -> None:
        """Wait until the warm pool's current fill has ended (benchmarks and tests)."""
        if self._refill is not None:
            await asyncio.shield(self._refill)

    def workdir(self, thread_id: str) -> Path:
        """The host directory that appears as /mnt/data for this thread."""
        if not _THREAD_ID.match(thread_id):
            raise ValueError(f"invalid thread id {thread_id!r}")
        return self.threads_dir / thread_id

    def read_file(self, thread_id: str, rel: str) -> bytes:
        """Read a (generated) file of the thread without following symlinks."""
        return files.read_file(self.workdir(thread_id), rel, self.limits.max_read_bytes)

    @contextlib.contextmanager
    def incoming_file(self, thread_id: str, name: str) -> Iterator[BinaryIO]:
        """Write a file into the thread's /mnt/data (symlink-safe, owned by its session)."""
        workdir = self.workdir(thread_id)
        workdir.mkdir(mode=0o700, exist_ok=True)
        session = self._live.get(thread_id)
        # Without a live session the file is handed over when a session adopts the workdir.
        uid = session.uid if session is not None else None
        with files.incoming_file(workdir, name, uid) as out:
            yield out

    def room(self, thread_id: str) -> int | None:
        """Bytes the thread's /mnt/data may still take (None: no quota)."""
        quota = DataQuota(self.limits, self.workdir(thread_id))
        return quota.room() if quota.enforced else None

    def has_file(self, thread_id: str, name: str) -> bool:
        """Whether /mnt/data of the thread holds a regular file called `name` (itself, never
        what a symlink planted there points to: that would tell the code which host paths
        exist)."""
        try:
            found = os.lstat(self.workdir(thread_id) / name)
        except OSError:
            return False
        return stat.S_ISREG(found.st_mode)

    async def execute(self, thread_id: str, code: str, timeout: float | None = None) -> ExecResult:
        """Run code in the thread's session, starting or claiming one if needed."""
        lock = self._locks.setdefault(thread_id, asyncio.Lock())
        async with lock:
            session = await self._session_for(thread_id)
            self._live.move_to_end(thread_id)
            result = await session.execute(code, timeout)
            if thread_id in self._lost:
                self._lost.discard(thread_id)
                result.state_lost = True
                result.notice = (result.notice + " " if result.notice else "") + LOST_NOTICE
            if not session.alive:
                # Died in this run (timeout kill, OOM, os._exit): report now and next time.
                self._live.pop(thread_id, None)
                self._lost.add(thread_id)
                result.state_lost = True
            return result

    async def _session_for(self, thread_id: str) -> Session:
        session = self._live.get(thread_id)
        if session is not None and session.alive:
            return session
        if session is not None:
            self._live.pop(thread_id)
            self._lost.add(thread_id)
        await self._evict_for_room()
        session = await self._claim(thread_id)
        self._live[thread_id] = session
        return session

    async def _claim(self, thread_id: str) -> Session:
        target = self.workdir(thread_id)
        await self._await_warm()
        if self._closed:
            raise SandboxUnavailable("the sandbox is shutting down")
        while self._warm:
            warm = self._warm.pop(0)
            self._kick_refill()
            if warm.alive:
                await asyncio.to_thread(_adopt, warm.workdir, target)
                warm.workdir = target
                await asyncio.to_thread(_chown_tree, target, warm.uid)
                return warm
        self._kick_refill()
        target.mkdir(exist_ok=True)
        try:
            session = await self.sandbox.start(target)
        except SandboxUnavailable as error:
            self.start_failure = str(error)
            raise
        except (SessionDied, OSError, TimeoutError) as error:
            why = f"{type(error).__name__}: {error}".rstrip(": ")
            self.start_failure = why
            raise SandboxUnavailable(f"a sandbox session could not start ({why})") from error
        self.start_failure = None
        return session

    async def _await_warm(self) -> None:
        """While the pool is being filled and has nothing yet, wait for its next session:
        one half started is sooner ready than a new one (and two cold starts at once would
        share the CPU)."""
        while not self._warm and self._refill is not None and not self._refill.done():
            self._warmed.clear()
            waiter = asyncio.ensure_future(self._warmed.wait())
            try:
                await asyncio.wait({waiter, self._refill}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()

    async def _evict_for_room(self) -> None:
        while len(self._live) >= self.limits.max_sessions:
            # Least recently used first; a session in the middle of a run is never evicted,
            # so under a burst the cap can be exceeded briefly rather than killing work.
            idle = [t for t, s in self._live.items() if not s.busy]
            if not idle:
                return
            log.info("evicting the least recently used session of thread %s", idle[0])
            self._lost.add(idle[0])
            await self._live.pop(idle[0]).close()

    def _kick_refill(self) -> None:
        if self._closed:
            return
        if self._refill is None or self._refill.done():
            self._refill = asyncio.create_task(self._fill())

    async def _fill(self) -> None:
        while len(self._warm) < self.limits.warm_pool_size:
            slot = self.warm_dir / uuid.uuid4().hex
            slot.mkdir()
            try:
                self._warm.append(await self.sandbox.start(slot))
                self._warmed.set()
                self.start_failure = None
            except SandboxUnavailable as error:
                self.start_failure = str(error)
                shutil.rmtree(slot, ignore_errors=True)
                return
            except Exception as error:  # recorded for readiness; the reaper tries again
                log.exception("could not start a warm sandbox session")
                self.start_failure = f"{type(error).__name__}: {error}"
                shutil.rmtree(slot, ignore_errors=True)
                return

    def has_session(self, thread_id: str) -> bool:
        """Whether the thread has a live session here."""
        session = self._live.get(thread_id)
        return session is not None and session.alive

    def note_run(self, thread_id: str, run_id: str) -> None:
        """Remember that `run_id`'s code ran in the thread's live session (see `align`)."""
        session = self._live.get(thread_id)
        if session is not None:
            session.last_run = run_id

    async def align(self, thread_id: str, last_code_run: str | None) -> None:
        """Before a run: keep the thread's session only if the thread's last code ran in it.

        Code of the thread that ran elsewhere since (another replica, while this one had lost
        its partitions for a moment) makes the variables here stale: the session is closed
        and the next execution is told they are gone. So a replica that loses and regains
        its partitions keeps its sessions unless another one really ran the threads.
        """
        session = self._live.get(thread_id)
        if session is not None and session.alive:
            if session.last_run == last_code_run:
                return
            log.info("thread %s ran code elsewhere since; its session here is stale", thread_id)
            self._live.pop(thread_id)
            await session.close()
        if last_code_run is not None:
            self._lost.add(thread_id)

    async def close_sessions(self, select: Callable[[str], bool]) -> int:
        """Close the sessions of the threads `select` picks (their files stay); their next
        execution, here, is told the variables are gone. Returns how many were closed."""
        chosen = [thread_id for thread_id in self._live if select(thread_id)]
        for thread_id in chosen:
            self._lost.add(thread_id)
            await self._live.pop(thread_id).close()
        return len(chosen)

    async def expire_idle(self) -> None:
        """Close sessions idle for longer than the TTL (their files stay)."""
        now = time.monotonic()
        for thread_id, session in list(self._live.items()):
            if now - session.last_used > self.limits.idle_ttl_s and not session.busy:
                self._live.pop(thread_id, None)
                self._lost.add(thread_id)
                await session.close()

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(min(60.0, self.limits.idle_ttl_s / 2))
            await self.expire_idle()
            self._kick_refill()  # after a failed fill: try again, so readiness can recover

    async def close(self) -> None:
        """Stop every session and background task; nothing starts afterwards."""
        self._closed = True
        for task in (self._reaper, self._refill):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for session in [*self._live.values(), *self._warm]:
            await session.close()
        for slot in self._warm:
            shutil.rmtree(slot.workdir, ignore_errors=True)
        self._live.clear()
        self._warm.clear()
        await asyncio.to_thread(self.sandbox.release)


def _adopt(slot: Path, target: Path) -> None:
    """Move the thread's files into the warm slot, then put the slot in the thread's place.

    The sandbox bind-mounted the slot directory itself, so renaming it keeps the mount.
    """
    if target.exists():
        for entry in os.listdir(target):
            os.rename(target / entry, slot / entry)
        target.rmdir()
    os.rename(slot, target)


def _chown_tree(root: Path, uid: int | None) -> None:
    if uid is not None:
        chown_tree(root, uid)
