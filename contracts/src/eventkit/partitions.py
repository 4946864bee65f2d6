"""Partition ownership shared by the replicas of a service, and the balancer that acts on it.

A consumer whose work must stay with one process per key (run-service: a thread's Python session
and the order of its runs) splits its queue into numbered partitions. Each replica holds an
exclusive lease on some of them and consumes only those queues. `PartitionBalancer` keeps every
replica at a fair share (`ceil(partitions / members)`): a new replica takes what others give
back, and a replica that dies loses its leases with its connection (PostgreSQL adapter), so the
others take its partitions over. A partition changes hands only after its old owner stopped
consuming and its running handlers finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

logger = logging.getLogger(__name__)

PartitionAction = Callable[[int], Awaitable[None]]


class LeasesLost(Exception):
    """This member's leases may be gone (its connection broke): it holds nothing now."""


class PartitionLeases(Protocol):
    """Exclusive leases on numbered partitions among the live members of one group."""

    @property
    def held(self) -> frozenset[int]:
        """The partitions this member holds."""
        ...

    async def members(self) -> int:
        """How many members the group has now, this one included."""
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
        self.live: set[object] = set()


class InMemoryLeases:
    """A member of an in-process group; alone in a fresh group, it can take every partition."""

    def __init__(self, group: InMemoryLeaseGroup | None = None) -> None:
        self._group = group if group is not None else InMemoryLeaseGroup()
        self._group.live.add(self)

    @property
    def held(self) -> frozenset[int]:
        return frozenset(p for p, owner in self._group.owners.items() if owner is self)

    async def members(self) -> int:
        self._check_live()
        return len(self._group.live)

    async def try_acquire(self, partition: int) -> bool:
        self._check_live()
        return self._group.owners.setdefault(partition, self) is self

    async def release(self, partition: int) -> None:
        if self._group.owners.get(partition) is self:
            del self._group.owners[partition]

    def leave(self) -> None:
        """Leave the group, as a process that exits or crashes does: its leases go."""
        self._group.live.discard(self)
        for partition in self.held:
            del self._group.owners[partition]

    def rejoin(self) -> None:
        """Come back after `leave` (a restarted process)."""
        self._group.live.add(self)

    def _check_live(self) -> None:
        if self not in self._group.live:
            raise LeasesLost("this member left its group")


class PartitionBalancer:
    """Keeps this replica consuming a fair share of the partitions, and nothing it does not hold.

    `take(p)` starts consuming partition p; `give_back(p)` stops and returns once the handlers
    running for p have finished. Both are called only from `balance`, one at a time.
    """

    def __init__(
        self,
        leases: PartitionLeases,
        partitions: int,
        take: PartitionAction,
        give_back: PartitionAction,
        *,
        interval_s: float = 1.0,
    ) -> None:
        self._leases = leases
        self._partitions = partitions
        self._take = take
        self._give_back = give_back
        self._interval_s = interval_s
        self._taken: set[int] = set()
        self._start = random.randrange(partitions)  # replicas try partitions in different orders

    @property
    def taken(self) -> frozenset[int]:
        """The partitions this replica consumes now."""
        return frozenset(self._taken)

    async def run(self) -> None:
        """Balance every `interval_s` seconds until cancelled."""
        while True:
            try:
                await self.balance()
            except Exception:  # keep balancing: the next round may succeed
                logger.exception("partition balancing failed; trying again")
            await asyncio.sleep(self._interval_s)

    async def balance(self) -> None:
        """One round: give back what exceeds the fair share, then take free partitions up to it."""
        try:
            share = -(-self._partitions // await self._leases.members())
            # Leases that vanished while someone else was told (e.g. a readiness probe hit the
            # broken connection first): stop consuming those at once.
            for partition in sorted(self._taken - self._leases.held):
                logger.error("lease on partition %d is gone; stopping it", partition)
                await self._give_back(partition)
                self._taken.discard(partition)
            for partition in sorted(self._taken, reverse=True)[: max(len(self._taken) - share, 0)]:
                await self._give_back(partition)
                self._taken.discard(partition)
                await self._leases.release(partition)
                logger.info("gave partition %d back (fair share %d)", partition, share)
            for partition in self._free_candidates():
                if len(self._taken) >= share:
                    break
                if await self._leases.try_acquire(partition):
                    await self._take_leased(partition)
        except LeasesLost as lost:
            logger.error(
                "partition leases lost (%s); stopping %d partitions", lost, len(self._taken)
            )
            await self.give_back_all()

    async def give_back_all(self) -> None:
        """Stop consuming every partition taken (the leases go with the group membership)."""
        for partition in sorted(self._taken):
            await self._give_back(partition)
            self._taken.discard(partition)
            with contextlib.suppress(LeasesLost):  # gone with the connection anyway
                await self._leases.release(partition)

    async def _take_leased(self, partition: int) -> None:
        try:
            await self._take(partition)
        except BaseException:
            await self._leases.release(partition)
            raise
        self._taken.add(partition)
        logger.info("took partition %d", partition)

    def _free_candidates(self) -> list[int]:
        order = [(self._start + i) % self._partitions for i in range(self._partitions)]
        return [partition for partition in order if partition not in self._taken]
