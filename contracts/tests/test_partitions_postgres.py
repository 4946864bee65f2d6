"""PostgreSQL advisory-lock leases pass the partition-lease contract, and die with their
connection."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from uuid import uuid4

import asyncpg  # type: ignore[import-untyped]
import pytest

from eventkit.partitions import PartitionLeases
from eventkit.partitions_postgres import PostgresLeases
from eventkit.pg_listen import asyncpg_dsn
from eventkit.testing.partitions_contract import (
    PARTITIONS,
    LeasesContract,
    assert_split,
    balancer_of,
    settle,
)

pytestmark = pytest.mark.postgres


class TestPostgresLeases(LeasesContract):
    @pytest.fixture(autouse=True)
    async def members(self, postgres_url: str) -> AsyncIterator[None]:
        self.url, self.group = postgres_url, f"test-{uuid4().hex}"
        async with AsyncExitStack() as stack:
            self.stack = stack
            yield

    async def new_member(self) -> PartitionLeases:
        return await self.stack.enter_async_context(PostgresLeases.joined(self.url, self.group))

    async def leave(self, member: PartitionLeases) -> None:
        assert isinstance(member, PostgresLeases)
        await member.close()


async def test_a_member_whose_connection_is_killed_loses_everything_and_rejoins(
    postgres_url: str,
) -> None:
    group = f"test-{uuid4().hex}"
    async with (
        PostgresLeases.joined(postgres_url, group) as survivor,
        PostgresLeases.joined(postgres_url, group) as victim,
    ):
        first, one = balancer_of(survivor)
        second, two = balancer_of(victim)
        await settle([first, second])
        assert_split([one, two])

        admin = await asyncpg.connect(asyncpg_dsn(postgres_url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", victim.server_pid)
        finally:
            await admin.close()
        async with asyncio.timeout(10):  # the backend exits just after the signal
            while len(await survivor.loads()) != 1:
                await asyncio.sleep(0.02)
        # The survivor takes the victim's partitions at once; the victim notices on its next
        # call, stops consuming everything, and joins again, after which the split returns.
        await settle([first])
        assert one.partitions == set(range(PARTITIONS))
        await second.balance()
        assert two.partitions == set()
        assert victim.held == frozenset()
        await settle([first, second])
        assert_split([one, two])
        assert two.partitions
