"""Event store: the events table, its append functions (PostgreSQL) and subscriber checkpoints.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The key of the global append lock: b"eventkit" read as a big-endian bigint.
APPEND_LOCK_KEY = 7311142570156583284

POSTGRES_EVENTS = """
CREATE TABLE events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id       text        NOT NULL,
    stream_version  integer     NOT NULL CHECK (stream_version >= 0),
    category        text        NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    schema_version  smallint    NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
)
"""

# The append itself, answering with an outcome instead of raising, so that several appends
# can share one transaction (group commit) without one failure undoing the others:
#   appended  - stored; last_version/last_position of the batch
#   retried   - this very batch is already in this stream: its stored result
#   stale     - p_expected_version is not the stream's version (last_version = actual)
#   duplicate - an event id is used, and not by a retry of this batch (or, for an id other
#               than the batch's first, SQLSTATE 23505 from the insert)
# p_data and p_metadata are JSON arrays with one element per event: one value to encode on
# the client, parsed by the server while it binds parameters, before taking the lock.
POSTGRES_TRY_APPEND = f"""
CREATE FUNCTION eventkit_try_append(
    p_stream_id        text,
    p_category         text,
    p_expected_version integer,
    p_event_ids        uuid[],
    p_event_types      text[],
    p_schema_versions  smallint[],
    p_data             jsonb,
    p_metadata         jsonb,
    OUT outcome        text,
    OUT last_version   integer,
    OUT last_position  bigint
) LANGUAGE plpgsql
-- PL/pgSQL caches generic plans per connection. Planned while the table is small (a fresh
-- database), they scan it sequentially and stay so after it has grown, until autovacuum
-- next analyzes it. Every lookup here has an index: never plan a sequential scan.
SET enable_seqscan = off
AS $fn$
DECLARE
    v_current  integer;
    v_found    integer;
    v_foreign  integer;
    v_distinct integer;
BEGIN
    -- ONE global lock, taken before any position is drawn and held until commit: positions
    -- are handed out in commit order, so a reader paging by position (across all categories)
    -- never passes a position whose transaction is still to commit. Every statement below
    -- runs with a fresh snapshot (READ COMMITTED), so it sees all appends committed before
    -- this one got the lock. Taking it again in the same transaction costs next to nothing.
    PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});

    -- A retried batch repeats its first event id, so one index lookup tells it from a new
    -- one. Any other event id already used fails the insert below with a unique violation.
    PERFORM FROM events e WHERE e.event_id = p_event_ids[1];
    IF FOUND THEN
        SELECT count(*), count(*) FILTER (WHERE e.stream_id <> p_stream_id)
          INTO v_found, v_foreign
          FROM events e
         WHERE e.event_id = ANY (p_event_ids);
        SELECT count(DISTINCT i) INTO v_distinct FROM unnest(p_event_ids) AS i;
        IF v_foreign > 0 OR v_found < v_distinct THEN
            outcome := 'duplicate';
            RETURN;
        END IF;
        SELECT 'retried', e.stream_version, e.global_position
          INTO outcome, last_version, last_position
          FROM events e
         WHERE e.event_id = ANY (p_event_ids)
         ORDER BY e.stream_version DESC
         LIMIT 1;
        RETURN;
    END IF;

    SELECT coalesce(max(e.stream_version), -1) INTO v_current
      FROM events e
     WHERE e.stream_id = p_stream_id;
    IF p_expected_version IS NOT NULL AND p_expected_version <> v_current THEN
        -- Reused event ids take precedence over the version check, as in a full probe.
        IF EXISTS (SELECT FROM events e WHERE e.event_id = ANY (p_event_ids)) THEN
            outcome := 'duplicate';
        ELSE
            outcome := 'stale';
            last_version := v_current;
        END IF;
        RETURN;
    END IF;

    INSERT INTO events (stream_id, stream_version, category, event_id, event_type,
                        schema_version, data, metadata)
    SELECT p_stream_id, v_current + u.n::integer, p_category, u.id, u.t, u.s, u.d, u.m
      FROM ROWS FROM (unnest(p_event_ids), unnest(p_event_types), unnest(p_schema_versions),
                      jsonb_array_elements(p_data), jsonb_array_elements(p_metadata))
           WITH ORDINALITY AS u(id, t, s, d, m, n)
     ORDER BY u.n;
    outcome := 'appended';
    last_version := v_current + cardinality(p_event_ids);
    -- Rows took their positions in ORDER BY order: the last one drawn is the batch's last.
    last_position := currval('events_global_position_seq');
END
$fn$
"""

# One append in one round trip. Raises SQLSTATE EK001 for a stale expected version (DETAIL =
# the stream's actual version) and EK002 for event ids used outside a retry of this batch.
POSTGRES_APPEND = """
CREATE FUNCTION eventkit_append(
    p_stream_id        text,
    p_category         text,
    p_expected_version integer,
    p_event_ids        uuid[],
    p_event_types      text[],
    p_schema_versions  smallint[],
    p_data             jsonb,
    p_metadata         jsonb,
    OUT last_version   integer,
    OUT last_position  bigint
) LANGUAGE plpgsql AS $fn$
DECLARE
    v_outcome text;
BEGIN
    SELECT a.outcome, a.last_version, a.last_position
      INTO v_outcome, last_version, last_position
      FROM eventkit_try_append(p_stream_id, p_category, p_expected_version, p_event_ids,
                               p_event_types, p_schema_versions, p_data, p_metadata) a;
    IF v_outcome = 'stale' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'EK001',
            MESSAGE = format('stream %s is at version %s, expected %s',
                             p_stream_id, last_version, p_expected_version),
            DETAIL = last_version::text;
    ELSIF v_outcome = 'duplicate' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'EK002',
            MESSAGE = format('event ids already used, not by a retry of this batch to %s',
                             p_stream_id);
    END IF;
END
$fn$
"""

# Several appends in one transaction: one lock hand-over and one WAL flush for all of them.
# The events of append i are the p_sizes[i] entries of the event arrays that follow those of
# appends 1..i-1; p_data[i] and p_metadata[i] are its JSON arrays.
# Returns one row per append, in order, as eventkit_try_append does.
POSTGRES_APPEND_MANY = """
CREATE FUNCTION eventkit_append_many(
    p_stream_ids        text[],
    p_categories        text[],
    p_expected_versions integer[],
    p_sizes             integer[],
    p_event_ids         uuid[],
    p_event_types       text[],
    p_schema_versions   smallint[],
    p_data              jsonb[],
    p_metadata          jsonb[]
) RETURNS TABLE (outcome text, last_version integer, last_position bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_first integer := 1;
    v_last  integer;
BEGIN
    FOR i IN 1 .. cardinality(p_stream_ids) LOOP
        v_last := v_first + p_sizes[i] - 1;
        SELECT a.outcome, a.last_version, a.last_position
          INTO outcome, last_version, last_position
          FROM eventkit_try_append(p_stream_ids[i], p_categories[i], p_expected_versions[i],
                                   p_event_ids[v_first:v_last], p_event_types[v_first:v_last],
                                   p_schema_versions[v_first:v_last], p_data[i],
                                   p_metadata[i]) a;
        RETURN NEXT;
        v_first := v_last + 1;
    END LOOP;
END
$fn$
"""

POSTGRES_CHECKPOINTS = """
CREATE TABLE checkpoints (
    name       text        PRIMARY KEY,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""

# AUTOINCREMENT: a position is never handed out twice, even if the newest row were removed.
SQLITE_EVENTS = """
CREATE TABLE events (
    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL CHECK (stream_version >= 0),
    category        TEXT    NOT NULL,
    event_id        CHAR(32) NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL DEFAULT 1,
    data            TEXT    NOT NULL,
    metadata        TEXT    NOT NULL DEFAULT '{}',
    recorded_at     TEXT    NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
)
"""

SQLITE_CHECKPOINTS = """
CREATE TABLE checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at TEXT    NOT NULL
)
"""

CATEGORY_INDEX = "CREATE INDEX events_category_position_idx ON events (category, global_position)"


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        statements = [
            POSTGRES_EVENTS,
            CATEGORY_INDEX,
            POSTGRES_TRY_APPEND,
            POSTGRES_APPEND,
            POSTGRES_APPEND_MANY,
            POSTGRES_CHECKPOINTS,
        ]
    else:
        statements = [SQLITE_EVENTS, CATEGORY_INDEX, SQLITE_CHECKPOINTS]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION eventkit_append_many")
        op.execute("DROP FUNCTION eventkit_append")
        op.execute("DROP FUNCTION eventkit_try_append")
    op.execute("DROP TABLE checkpoints")
    op.execute("DROP TABLE events")
