"""The behaviour every PartitionLeases adapter must show, with the balancer on top.

Subclass `LeasesContract` and define `new_member()` (a joined member of one fresh group per
test) and `leave(member)` (the member goes, as a process that exits does).
"""

import asyncio
from collections.abc import Awaitable, Callable

from eventkit.partitions import PartitionBalancer, PartitionLeases

PARTITIONS = 16


class Consuming:
    """What a replica consumes, as the balancer drives it. Replicas sharing one `consumers`
    map check that no partition is ever consumed by two of them at once."""

    def __init__(self, leases: PartitionLeases, consumers: dict[int, object] | None = None):
        self.leases = leases
        self.partitions: set[int] = set()
        self.log: list[tuple[str, int]] = []
        self.consumers = consumers if consumers is not None else {}

    async def take(self, partition: int) -> None:
        assert partition in self.leases.held, "consume only what is leased"
        assert self.consumers.setdefault(partition, self) is self, f"{partition} taken twice"
        await asyncio.sleep(0)  # let other replicas' rounds interleave
        self.partitions.add(partition)
        self.log.append(("take", partition))

    async def give_back(self, partition: int, lost: bool) -> None:
        if not lost:
            assert partition in self.leases.held, "stop consuming before the lease goes"
        await asyncio.sleep(0.001)  # handlers finishing
        self.partitions.discard(partition)
        if self.consumers.get(partition) is self:
            del self.consumers[partition]
        self.log.append(("give_back", partition))


def balancer_of(
    leases: PartitionLeases, consumers: dict[int, object] | None = None
) -> tuple[PartitionBalancer, Consuming]:
    consuming = Consuming(leases, consumers)
    return PartitionBalancer(leases, PARTITIONS, consuming.take, consuming.give_back), consuming


async def settle(balancers: list[PartitionBalancer], rounds: int = 8) -> None:
    """Balance every replica, a few rounds, all at once (as their periodic loops overlap)."""
    for _ in range(rounds):
        await asyncio.gather(*(balancer.balance() for balancer in balancers))


def assert_split(consuming: list[Consuming]) -> None:
    """Every partition consumed by exactly one replica, each holding its fair share."""
    everything = [p for c in consuming for p in c.partitions]
    assert sorted(everything) == list(range(PARTITIONS)), everything
    low = PARTITIONS // len(consuming)
    high = -(-PARTITIONS // len(consuming))
    assert all(low <= len(c.partitions) <= high for c in consuming), [
        len(c.partitions) for c in consuming
    ]


class LeasesContract:
    """Subclass and provide `new_member` and `leave`."""

    new_member: Callable[[], Awaitable[PartitionLeases]]
    leave: Callable[[PartitionLeases], Awaitable[None]]

    async def test_a_lone_member_can_hold_every_partition(self) -> None:
        alone = await self.new_member()
        assert await alone.loads() == [0]
        assert all([await alone.try_acquire(p) for p in range(PARTITIONS)])
        assert alone.held == frozenset(range(PARTITIONS))
        assert await alone.loads() == [PARTITIONS]

    async def test_a_held_partition_is_nobody_elses_until_released(self) -> None:
        first, second = await self.new_member(), await self.new_member()
        assert await first.try_acquire(3)
        assert await first.try_acquire(3), "taking it again is a no-op"
        assert not await second.try_acquire(3)
        assert await first.loads() == [1, 0]
        assert await second.loads() == [0, 1]
        await first.release(3)
        assert await second.try_acquire(3)
        assert 3 not in first.held
        assert 3 in second.held

    async def test_replicas_split_the_partitions_fairly_whatever_their_number(self) -> None:
        consumers: dict[int, object] = {}
        first, one = balancer_of(await self.new_member(), consumers)
        await first.balance()
        assert one.partitions == set(range(PARTITIONS)), "alone, a replica consumes everything"
        balancers, consuming = [first], [one]
        for _ in range(5):  # 2, 3, 4, 5, 6 replicas: 8/8, 6/5/5, 4 each, 4/3/3/3/3, ...
            balancer, replica = balancer_of(await self.new_member(), consumers)
            balancers.append(balancer)
            consuming.append(replica)
            await settle(balancers)
            assert_split(consuming)
            assert replica.partitions, "the newcomer got partitions"

    async def test_the_partitions_of_a_replica_that_leaves_go_to_the_others(self) -> None:
        consumers: dict[int, object] = {}
        balancers, consuming, members = [], [], []
        for _ in range(3):
            member = await self.new_member()
            balancer, replica = balancer_of(member, consumers)
            balancers.append(balancer)
            consuming.append(replica)
            members.append(member)
        await settle(balancers)
        assert_split(consuming)
        await self.leave(members[2])
        consumers.clear()  # the one that left consumes nothing any more
        for replica in consuming[:2]:
            consumers.update(dict.fromkeys(replica.partitions, replica))
        await settle(balancers[:2])
        assert_split(consuming[:2])
