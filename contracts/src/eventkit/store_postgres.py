"""The PostgreSQL event store: appends through the `eventkit_*append*` functions.

The functions (migration 0001) take one global advisory lock before they draw positions, so
positions are handed out in commit order and `read_all` pages never skip an event. They check
the expected version, answer retried batches, and insert with unnest. Concurrent appends are
group-committed (see store_postgres_group); reads of the log go straight to asyncpg.
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eventkit.pg_driver import server_error, sqlstate
from eventkit.store import (
    AppendResult,
    ConcurrencyError,
    DuplicateEventError,
    EventStoreError,
    NewEvent,
    StoredEvent,
    category_of,
    has_escaped_nul,
)
from eventkit.store_postgres_group import AppendRequest, GroupCommitter, Outcome
from eventkit.store_postgres_log import LogPages
from eventkit.store_sql_base import SqlEventReads

_APPEND = "SELECT last_version, last_position FROM eventkit_append($1, $2, $3, $4, $5, $6, $7, $8)"

# raw_decode skips the layers json.loads adds (the log's JSON has no surrounding whitespace).
_decode = json.JSONDecoder().raw_decode

# SQLSTATEs raised by eventkit_append, and PostgreSQL's own for a unique violation: on the
# event id, it means an id of the batch (other than its first) is already used.
_STALE_VERSION = "EK001"
_DUPLICATE_EVENT = "EK002"
_UNIQUE_VIOLATION = "23505"
_EVENT_ID_KEY = "events_event_id_key"


class PostgresEventStore(SqlEventReads):
    """An EventStore in PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._committer = GroupCommitter(engine)
        self._pages = LogPages(engine)

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], *, expected_version: int | None
    ) -> AppendResult:
        """Append atomically; committed when this returns."""
        request = _request(stream_id, events, expected_version)
        with _append_errors(stream_id, expected_version):
            outcome = await self._committer.submit(request)
        return _result(request, outcome)

    async def append_in_transaction(
        self,
        connection: AsyncConnection,
        stream_id: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int | None,
    ) -> AppendResult:
        """Append inside the caller's transaction on `connection` (e.g. with an inline projection).

        The transaction must be READ COMMITTED (the default), so the append sees every append
        committed before it got the lock. The global append lock is held until the transaction
        ends: keep it short. After an error the transaction is aborted and must be rolled back.
        """
        request = _request(stream_id, events, expected_version)
        arguments = (
            request.stream_id,
            request.category,
            request.expected_version,
            request.event_ids,
            request.event_types,
            request.schema_versions,
            request.data,
            request.metadata,
        )
        with _append_errors(stream_id, expected_version):
            row: Sequence[Any] = (await connection.exec_driver_sql(_APPEND, arguments)).one()
        return AppendResult(stream_version=row[0], global_position=row[1])

    async def read_all(
        self, *, after_position: int = 0, limit: int = 1000, category: str | None = None
    ) -> list[StoredEvent]:
        """Events after a global position, in position order; optionally of one category."""
        try:
            rows = await self._pages.rows(max(after_position, 0), max(limit, 0), category)
        except Exception as exc:
            raise EventStoreError(f"reading the log failed: {exc}") from exc
        # Positional arguments and tuple unpacking: this loop is most of a catch-up's CPU time.
        return [
            StoredEvent(
                pos, stream, ver, eid, etype, schema, _decode(data)[0], _decode(meta)[0], at
            )
            for pos, stream, ver, eid, etype, schema, data, meta, at in rows
        ]


def _request(
    stream_id: str, events: Sequence[NewEvent], expected_version: int | None
) -> AppendRequest:
    if not events:
        raise ValueError("append needs at least one event")
    return AppendRequest(
        stream_id=stream_id,
        category=category_of(stream_id),
        expected_version=expected_version,
        event_ids=[event.event_id for event in events],
        event_types=[event.event_type for event in events],
        schema_versions=[event.schema_version for event in events],
        data=_encode_storable([event.data for event in events]),
        metadata=_encode_storable([event.metadata for event in events]),
    )


def _encode_storable(values: list[Mapping[str, object]]) -> str:
    # The same refusals as eventkit.store.check_storable_json, on the one encode we do anyway.
    try:
        text = _encode_json(values)
    except (ValueError, TypeError) as error:
        raise EventStoreError(f"event payload is not storable JSON: {error}") from None
    if has_escaped_nul(text):
        raise EventStoreError("event payload contains a NUL character, which cannot be stored")
    return text


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# One encode per append (a JSON array of all its events) costs half as much as one per event.
# NaN and infinities are refused here: PostgreSQL's jsonb would refuse them anyway.
_encode_json = json.JSONEncoder(allow_nan=False, default=_plain).encode


def _result(request: AppendRequest, outcome: Outcome) -> AppendResult:
    state, version, position = outcome
    if state == "stale" and request.expected_version is not None and version is not None:
        raise ConcurrencyError(request.stream_id, request.expected_version, version)
    if state == "duplicate":
        raise DuplicateEventError(
            f"event ids already used, not by a retry of this batch to {request.stream_id!r}"
        )
    if state in ("appended", "retried") and version is not None and position is not None:
        return AppendResult(stream_version=version, global_position=position)
    raise EventStoreError(f"append to {request.stream_id!r}: unexpected outcome {outcome!r}")


@contextmanager
def _append_errors(stream_id: str, expected_version: int | None) -> Iterator[None]:
    """Translate what an append can raise into the port's errors."""
    try:
        yield
    except EventStoreError:
        raise
    except Exception as exc:
        state = sqlstate(exc)
        if state == _STALE_VERSION and expected_version is not None:
            actual = int(server_error(exc).detail)
            raise ConcurrencyError(stream_id, expected_version, actual) from exc
        if state == _DUPLICATE_EVENT or (
            state == _UNIQUE_VIOLATION
            and getattr(server_error(exc), "constraint_name", None) == _EVENT_ID_KEY
        ):
            raise DuplicateEventError(server_error(exc).message) from exc
        raise EventStoreError(f"append to {stream_id!r} failed: {exc}") from exc
