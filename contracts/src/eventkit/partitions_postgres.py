"""Partition leases as PostgreSQL advisory locks held by one dedicated connection per member.

A member holds an advisory lock on its own random id (membership) and one per partition it
owns; `pg_locks` tells who the members are and how many partitions each holds. Session-level
advisory locks die with their connection, so a replica that crashes or is cut off loses its
leases without any expiry to wait for. Every query has a timeout (a member whose database went
silent learns so within QUERY_TIMEOUT_S and stops), and TCP keepalives on the server's side
bound how long the locks of a silently vanished member last (about 25 s).

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

QUERY_TIMEOUT_S = 5.0
KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}

LOADS = """
SELECT m.pid = pg_backend_pid() AS mine, count(p.objid) AS held
FROM pg_locks m
LEFT JOIN pg_locks p
  ON p.pid = m.pid AND p.locktype = 'advisory' AND p.objsubid = 2 AND p.granted
  AND p.classid = $2::bigint::oid AND p.database = m.database
WHERE m.locktype = 'advisory' AND m.objsubid = 2 AND m.granted AND m.classid = $1::bigint::oid
  AND m.database = (SELECT oid FROM pg_database WHERE datname = current_database())
GROUP BY m.pid, m.objid
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

    async def loads(self) -> list[int]:
        rows = await self._query("fetch", LOADS, self._members_class, self._partitions_class)
        mine = [int(row["held"]) for row in rows if row["mine"]]
        if not mine:  # the membership lock is gone while the session lives: start over
            async with self._lock:
                self._drop()
            raise LeasesLost("this member's membership lock is gone")
        return [mine[0], *(int(row["held"]) for row in rows if not row["mine"])]

    async def try_acquire(self, partition: int) -> bool:
        if partition in self._held:  # advisory locks count re-entries: never take one twice
            return True
        sql = "SELECT pg_try_advisory_lock($1::int, $2::int)"
        if await self._query("fetchval", sql, self._partitions_class, partition):
            self._held.add(partition)
            return True
        return False

    async def release(self, partition: int) -> None:
        if partition not in self._held:
            return
        sql = "SELECT pg_advisory_unlock($1::int, $2::int)"
        await self._query("fetchval", sql, self._partitions_class, partition)
        self._held.discard(partition)  # only now: a failed unlock leaves it held, and known

    async def close(self) -> None:
        """Leave the group: closing the connection releases every lock at once."""
        async with self._lock:
            self._drop()

    async def _query(self, method: str, sql: str, *args: object) -> Any:
        import asyncpg  # type: ignore[import-untyped]  # the postgres extra (no stubs)

        async with self._lock:
            if self._connection is None or self._connection.is_closed():
                had = bool(self._held) or self._connection is not None
                self._drop()
                if had:
                    raise LeasesLost("the connection to PostgreSQL closed")
                await self._join()
            try:
                return await getattr(self._connection, method)(sql, *args, timeout=QUERY_TIMEOUT_S)
            except TimeoutError as error:
                self._drop()
                raise LeasesLost(f"PostgreSQL did not answer in {QUERY_TIMEOUT_S:g} s") from error
            except asyncpg.InternalClientError as error:
                # The protocol lost track of its state, e.g. when the backend was killed
                # mid-statement ("cannot switch to state …"): the session is unusable.
                self._drop()
                raise LeasesLost(f"PostgreSQL connection broke: {error}") from error
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                if self._connection is not None and not self._connection.is_closed():
                    raise  # a failed statement on a live session: the locks are still held
                self._drop()
                raise LeasesLost(f"PostgreSQL connection failed: {error!r}") from error

    async def _join(self) -> None:
        """Connect and take a membership lock on a fresh random id."""
        import asyncpg

        name = f"cie leases {self._group}"[:63]
        try:
            self._connection = await asyncpg.connect(
                self._dsn,
                timeout=QUERY_TIMEOUT_S,
                command_timeout=QUERY_TIMEOUT_S,
                server_settings={"application_name": name, **KEEPALIVES},
            )
            while not await self._connection.fetchval(
                "SELECT pg_try_advisory_lock($1::int, $2::int)",
                self._members_class,
                random.randrange(1, 2**31),
            ):
                pass  # that id is taken by another member: draw again
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            self._drop()
            raise LeasesLost(f"cannot join {self._group!r}: {error!r}") from error
        except BaseException:  # cancelled half-way: never keep a connection without membership
            self._drop()
            raise

    def _drop(self) -> None:
        """Forget the connection and everything it held; the server frees the locks with it."""
        self._held.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()
