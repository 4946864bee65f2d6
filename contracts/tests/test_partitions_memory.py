"""The in-process lease adapter passes the partition-lease contract."""

from eventkit.partitions import InMemoryLeaseGroup, InMemoryLeases, PartitionLeases
from eventkit.testing.partitions_contract import LeasesContract, balancer_of


class TestInMemoryLeases(LeasesContract):
    def setup_method(self) -> None:
        self.group = InMemoryLeaseGroup()

    async def new_member(self) -> PartitionLeases:
        return InMemoryLeases(self.group)

    async def leave(self, member: PartitionLeases) -> None:
        assert isinstance(member, InMemoryLeases)
        member.leave()


async def test_a_replica_that_lost_its_leases_stops_consuming_and_comes_back() -> None:
    group = InMemoryLeaseGroup()
    leases = InMemoryLeases(group)
    balancer, consuming = balancer_of(leases)
    await balancer.balance()
    assert len(consuming.partitions) == 16
    leases.leave()  # e.g. its connection broke
    await balancer.balance()
    assert consuming.partitions == set()
    assert balancer.taken == frozenset()
    leases.rejoin()
    await balancer.balance()
    assert len(consuming.partitions) == 16


async def test_leases_lost_without_the_balancer_noticing_are_given_back_before_retaken() -> None:
    """Another caller (a readiness probe) met the loss first; the balancer must still stop."""
    group = InMemoryLeaseGroup()
    leases = InMemoryLeases(group)
    balancer, consuming = balancer_of(leases)
    await balancer.balance()
    leases.leave()
    leases.rejoin()  # back in the group, holding nothing, and nobody told the balancer
    consuming.log.clear()
    await balancer.balance()  # sees the loss
    await balancer.balance()  # takes them again
    assert consuming.partitions == set(range(16))
    for partition in range(16):
        assert consuming.log.index(("give_back", partition)) < consuming.log.index(
            ("take", partition)
        )
