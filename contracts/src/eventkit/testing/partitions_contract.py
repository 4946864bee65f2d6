"""The behaviour every PartitionLeases adapter must show, with the balancer on top.

Subclass `LeasesContract` and define `new_member()` (a joined member of one fresh group per
test) and `leave(member)` (the member goes, as a process that exits does).
"""

from collections.abc import Awaitable, Callable

from eventkit.partitions import PartitionBalancer, PartitionLeases

PARTITIONS = 16


class Consuming:
    """What a replica consumes, as the balancer drives it; checks each hand-over's order."""

    def __init__(self, leases: PartitionLeases) -> None:
        self.leases = leases
        self.partitions: set[int] = set()
        self.log: list[tuple[str, int]] = []

    async def take(self, partition: int) -> None:
        assert partition in self.leases.held, "consume only what is leased"
        self.partitions.add(partition)
        self.log.append(("take", partition))

    async def give_back(self, partition: int) -> None:
        # Before the lease goes, unless all leases went at once (a lost connection).
        assert partition in self.leases.held or not self.leases.held
        self.partitions.discard(partition)
        self.log.append(("give_back", partition))


def balancer_of(leases: PartitionLeases) -> tuple[PartitionBalancer, Consuming]:
    consuming = Consuming(leases)
    return PartitionBalancer(leases, PARTITIONS, consuming.take, consuming.give_back), consuming


async def settle(balancers: list[PartitionBalancer], rounds: int = 6) -> None:
    """Balance every replica in turn, a few rounds (how the periodic loops interleave)."""
    for _ in range(rounds):
        for balancer in balancers:
            await balancer.balance()


def assert_split(consuming: list[Consuming], most: int) -> None:
    """Every partition consumed by exactly one replica, none above `most` partitions."""
    everything = [p for c in consuming for p in c.partitions]
    assert sorted(everything) == list(range(PARTITIONS)), everything
    assert max(len(c.partitions) for c in consuming) <= most


class LeasesContract:
    """Subclass and provide `new_member` and `leave`."""

    new_member: Callable[[], Awaitable[PartitionLeases]]
    leave: Callable[[PartitionLeases], Awaitable[None]]

    async def test_a_lone_member_can_hold_every_partition(self) -> None:
        alone = await self.new_member()
        assert await alone.members() == 1
        assert all([await alone.try_acquire(p) for p in range(PARTITIONS)])
        assert alone.held == frozenset(range(PARTITIONS))

    async def test_a_held_partition_is_nobody_elses_until_released(self) -> None:
        first, second = await self.new_member(), await self.new_member()
        assert await first.members() == 2
        assert await first.try_acquire(3)
        assert await first.try_acquire(3), "taking it again is a no-op"
        assert not await second.try_acquire(3)
        await first.release(3)
        assert await second.try_acquire(3)
        assert 3 not in first.held
        assert 3 in second.held

    async def test_replicas_split_the_partitions_fairly_and_a_newcomer_gets_a_share(
        self,
    ) -> None:
        first, one = balancer_of(await self.new_member())
        await first.balance()
        assert one.partitions == set(range(PARTITIONS)), "alone, a replica consumes everything"
        second, two = balancer_of(await self.new_member())
        await settle([first, second])
        assert_split([one, two], most=8)
        third, three = balancer_of(await self.new_member())
        await settle([first, second, third])
        assert_split([one, two, three], most=6)
        assert three.partitions, "the newcomer got partitions"

    async def test_the_partitions_of_a_replica_that_leaves_go_to_the_others(self) -> None:
        first, one = balancer_of(await self.new_member())
        leaving = await self.new_member()
        second, two = balancer_of(leaving)
        await settle([first, second])
        assert_split([one, two], most=8)
        await self.leave(leaving)
        await settle([first])
        assert one.partitions == set(range(PARTITIONS))
