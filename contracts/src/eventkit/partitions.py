"""Partition ownership shared by the replicas of a service, and the balancer that acts on it.

A consumer whose work must stay with one process per key (run-service: a thread's Python session
and the order of its runs) splits its queue into numbered partitions. Each replica holds an
exclusive lease on some of them and consumes only those queues. `PartitionBalancer` moves every
replica toward a fair share: with P partitions and n replicas, each holds P // n, and P % n of
them one more. A newcomer gets partitions that others give back; a replica that dies loses its
leases with its connection (PostgreSQL adapter), and the others take its partitions over. A
partition is given back only after its running handlers finished, except when the lease is
already lost: then everything stops at once, since another replica may own it by now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)

Take = Callable[[int], Awaitable[None]]
"""Start consuming a partition."""

GiveBack = Callable[[int, bool], Awaitable[None]]
"""Stop consuming a partition; with `lost` True at once, else once its handlers finished."""


class LeasesLost(Exception):
    """This member's leases may be gone (its connection broke): it holds nothing now."""


class PartitionLeases(Protocol):
    """Exclusive leases on numbered partitions among the live members of one group."""

    @property
    def held(self) -> frozenset[int]:
        """The partitions this member holds."""
        ...

    async def loads(self) -> list[int]:
        """How many partitions each member of the group holds: this member first, then the
        others (one entry per member, 0 for one holding none)."""
        ...

    async def try_acquire(self, partition: int) -> bool:
        """Take `partition` if no other member holds it; True if this member holds it now."""
        ...

    async def release(self, partition: int) -> None:
        """Give `partition` up (nothing if not held)."""
        ...


class InMemoryLeaseGroup:
    """The registry a group of in-process members shares (one process: tests, embedded)."""

    def __init__(self) -> None:
        self.owners: dict[int, object] = {}
        self.live: list[object] = []


class InMemoryLeases:
    """A member of an in-process group; alone in a fresh group, it can take every partition."""

    def __init__(self, group: InMemoryLeaseGroup | None = None) -> None:
        self._group = group if group is not None else InMemoryLeaseGroup()
        self._group.live.append(self)

    @property
    def held(self) -> frozenset[int]:
        return frozenset(p for p, owner in self._group.owners.items() if owner is self)

    async def loads(self) -> list[int]:
        self._check_live()
        counts = [
            sum(1 for owner in self._group.owners.values() if owner is member)
            for member in self._group.live
            if member is not self
        ]
        return [len(self.held), *counts]

    async def try_acquire(self, partition: int) -> bool:
        self._check_live()
        return self._group.owners.setdefault(partition, self) is self

    async def release(self, partition: int) -> None:
        if self._group.owners.get(partition) is self:
            del self._group.owners[partition]

    def leave(self) -> None:
        """Leave the group, as a process that exits or crashes does: its leases go."""
        if self in self._group.live:
            self._group.live.remove(self)
        for partition in self.held:
            del self._group.owners[partition]

    def rejoin(self) -> None:
        """Come back after `leave` (a restarted process)."""
        if self not in self._group.live:
            self._group.live.append(self)

    def _check_live(self) -> None:
        if self not in self._group.live:
            raise LeasesLost("this member left its group")


@dataclass
class PartitionStatus:
    """What the balancer last saw, for readiness and logs."""

    partitions: int = 0
    held: int = 0
    members: int = 0
    balanced_at: float | None = None  # time.monotonic() of the last round that worked
    problem: str | None = "not balanced yet"

    def summary(self) -> str:
        return f"{self.held} of {self.partitions} partitions held; {self.members} replica(s)"


class PartitionBalancer:
    """Keeps this replica consuming a fair share of the partitions, and nothing it does not hold.

    `take` and `give_back` are called only from `balance`; several give-backs may run at once.
    """

    def __init__(
        self,
        leases: PartitionLeases,
        partitions: int,
        take: Take,
        give_back: GiveBack,
        *,
        interval_s: float = 1.0,
        status: PartitionStatus | None = None,
    ) -> None:
        self._leases = leases
        self._partitions = partitions
        self._take = take
        self._give_back = give_back
        self._interval_s = interval_s
        self._taken: set[int] = set()
        self._before_loss: set[int] = set()  # taken first again after a lost connection
        self._start = random.randrange(partitions)  # replicas try partitions in different orders
        self.status = status if status is not None else PartitionStatus()
        self.status.partitions = partitions

    @property
    def taken(self) -> frozenset[int]:
        """The partitions this replica consumes now."""
        return frozenset(self._taken)

    async def run(self) -> None:
        """Balance every `interval_s` seconds until cancelled."""
        while True:
            try:
                await self.balance()
            except Exception as error:  # keep balancing: the next round may succeed
                logger.exception("partition balancing failed; trying again")
                self.status.problem = f"balancing failed: {error!r}"[:200]
            await asyncio.sleep(self._interval_s)

    async def balance(self) -> None:
        """One round: stop what is no longer leased, shed what is above the fair share, or take
        free partitions up to it."""
        try:
            loads = await self._leases.loads()
            await self._stop_vanished()
            low, extra = divmod(self._partitions, len(loads))
            high = low + (1 if extra else 0)
            # Someone holds less than the share everyone can have: the better-off make room.
            starving = any(count < low for count in loads[1:])
            target = low if starving else high
            if len(self._taken) > target:
                await self._shed(len(self._taken) - target)
            else:
                await self._take_free(target)
            self._round_done(len(loads))
        except LeasesLost as lost:
            logger.error("partition leases lost (%s); stopping %d", lost, len(self._taken))
            self.status.problem = f"leases lost: {lost}"[:200]
            self._before_loss |= self._taken
            await self.give_back_all(lost=True)

    async def give_back_all(self, *, lost: bool = False) -> None:
        """Stop consuming every partition taken (all at once)."""
        taken, self._taken = sorted(self._taken), set()
        self.status.held = 0
        await asyncio.gather(*(self._give_back(p, lost) for p in taken))
        for partition in taken:
            with contextlib.suppress(LeasesLost):  # gone with the connection anyway
                await self._leases.release(partition)

    async def _stop_vanished(self) -> None:
        """Leases that vanished while another caller met the broken connection: stop at once."""
        vanished = sorted(self._taken - self._leases.held)
        if vanished:
            logger.error("leases on partitions %s are gone; stopping them", vanished)
            self._taken -= set(vanished)
            await asyncio.gather(*(self._give_back(p, True) for p in vanished))

    async def _shed(self, count: int) -> None:
        shed = sorted(self._taken, reverse=True)[:count]
        await asyncio.gather(*(self._give_back(p, False) for p in shed))
        for partition in shed:
            self._taken.discard(partition)
            await self._leases.release(partition)
            logger.info("gave back partition %d", partition)

    async def _take_free(self, target: int) -> None:
        for partition in self._candidates():
            if len(self._taken) >= target:
                return
            if await self._leases.try_acquire(partition):
                try:
                    await self._take(partition)
                except BaseException:
                    await self._leases.release(partition)
                    raise
                self._taken.add(partition)
                logger.info("took partition %d", partition)

    def _candidates(self) -> list[int]:
        """Free-to-try partitions: those held before a lost connection first (their threads'
        sessions may still be here), then all others from this replica's own starting point."""
        order = [(self._start + i) % self._partitions for i in range(self._partitions)]
        order.sort(key=lambda p: p not in self._before_loss)
        return [p for p in order if p not in self._taken]

    def _round_done(self, members: int) -> None:
        self._before_loss = set()  # it served its one round
        self.status.held = len(self._taken)
        self.status.members = members
        self.status.balanced_at = time.monotonic()
        self.status.problem = None
