"""Partition leases as PostgreSQL advisory locks held by one dedicated connection per member.

A member holds an advisory lock on its own random id (membership) and one per partition it
owns; `pg_locks` counts the members. Session-level advisory locks die with their connection, so
a replica that crashes or is cut off loses its leases without any expiry to wait for; TCP
keepalives bound how long a silently vanished peer keeps them (about 25 s).

Locks use the two-key form `(class, id)`: the class is derived from the group name, so groups
(e.g. one per RabbitMQ virtual host) never meet, and nothing else here uses that form.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import zlib
from collections.abc import AsyncIterator
from typing import Any

from eventkit.partitions import LeasesLost
from eventkit.pg_listen import asyncpg_dsn

logger = logging.getLogger(__name__)

KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}

COUNT_MEMBERS = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND classid = $1::bigint::oid
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def lock_class(group: str, purpose: str) -> int:
    """A positive 31-bit key naming (group, purpose)."""
    return zlib.crc32(f"{group}/{purpose}".encode()) & 0x7FFFFFFF


class PostgresLeases:
    """A member of `group`; open it with `PostgresLeases.joined(url, group)`."""

    def __init__(self, url: str, group: str) -> None:
        self._dsn = asyncpg_dsn(url)
        self._group = group
        self._members_class = lock_class(group, "members")
        self._partitions_class = lock_class(group, "partitions")
        self._connection: Any = None  # asyncpg.Connection once joined
        self._held: set[int] = set()
        self._lock = asyncio.Lock()  # one query at a time on the one connection

    @classmethod
    @contextlib.asynccontextmanager
    async def joined(cls, url: str, group: str) -> AsyncIterator[PostgresLeases]:
        """A member that has joined; leaving the block releases everything it holds."""
        leases = cls(url, group)
        async with leases._lock:
            await leases._join()
        try:
            yield leases
        finally:
            await leases.close()

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._held)

    @property
    def server_pid(self) -> int | None:
        """The PostgreSQL backend holding this member's locks (None while not joined)."""
        return None if self._connection is None else int(self._connection.get_server_pid())

    async def members(self) -> int:
        count = await self._query(COUNT_MEMBERS, self._members_class)
        return max(int(count), 1)

    async def try_acquire(self, partition: int) -> bool:
        if partition in self._held:  # advisory locks count re-entries: never take one twice
            return True
        taken = await self._query(
            "SELECT pg_try_advisory_lock($1::int, $2::int)", self._partitions_class, partition
        )
        if taken:
            self._held.add(partition)
        return bool(taken)

    async def release(self, partition: int) -> None:
        if partition not in self._held:
            return
        self._held.discard(partition)
        await self._query(
            "SELECT pg_advisory_unlock($1::int, $2::int)", self._partitions_class, partition
        )

    async def close(self) -> None:
        """Leave the group: closing the connection releases every lock at once."""
        async with self._lock:
            await self._drop()

    async def _query(self, sql: str, *args: object) -> Any:
        import asyncpg  # type: ignore[import-untyped]  # the postgres extra (no stubs)

        async with self._lock:
            if self._connection is None or self._connection.is_closed():
                had = bool(self._held) or self._connection is not None
                await self._drop()
                if had:
                    raise LeasesLost("the connection to PostgreSQL closed")
                await self._join()
            try:
                return await self._connection.fetchval(sql, *args)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                if self._connection is not None and not self._connection.is_closed():
                    raise  # a failed statement on a live session: the locks are still held
                await self._drop()
                raise LeasesLost(f"PostgreSQL connection failed: {error!r}") from error

    async def _join(self) -> None:
        """Connect and take a membership lock on a fresh random id."""
        import asyncpg

        try:
            self._connection = await asyncpg.connect(
                self._dsn,
                server_settings={
                    "application_name": f"cie leases {self._group}"[:63],
                    **KEEPALIVES,
                },
            )
            while not await self._connection.fetchval(
                "SELECT pg_try_advisory_lock($1::int, $2::int)",
                self._members_class,
                random.randrange(1, 2**31),
            ):
                pass  # that id is taken by another member: draw again
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            await self._drop()
            raise LeasesLost(f"cannot join {self._group!r}: {error!r}") from error

    async def _drop(self) -> None:
        self._held.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
