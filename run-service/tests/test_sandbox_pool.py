"""SessionPool lifecycle under bubblewrap: warm claims, idle expiry, LRU eviction."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator

import pytest
from sandbox_support import TEST_LIMITS, pool_root, require_bwrap

from run_service.sandbox import BubblewrapSandbox, SessionPool


@pytest.fixture(scope="module")
async def small_pool(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SessionPool]:
    """A pool holding at most two live sessions."""
    require_bwrap()
    limits = dataclasses.replace(TEST_LIMITS, max_sessions=2, warm_pool_size=1)
    p = SessionPool(BubblewrapSandbox(limits), pool_root(tmp_path_factory))
    await p.start()
    yield p
    await p.close()


async def test_warm_claim_keeps_existing_thread_files(small_pool: SessionPool) -> None:
    workdir = small_pool.workdir("t-upload")
    workdir.mkdir()
    (workdir / "data.csv").write_text("a,b\n1,2\n")
    t = time.monotonic()
    r = await small_pool.execute("t-upload", "open('data.csv').read()")
    assert r.result == repr("a,b\n1,2\n")
    assert time.monotonic() - t < 1.0  # claimed from the warm pool, not started cold


async def test_lru_eviction_loses_state_but_keeps_files(small_pool: SessionPool) -> None:
    await small_pool.execute("t-a", "v = 'a'\nopen('a.txt', 'w').write('a')")
    await small_pool.execute("t-b", "v = 'b'")
    await small_pool.execute("t-c", "v = 'c'")  # evicts the least recently used: t-upload/t-a
    await small_pool.execute("t-b", "v")
    r = await small_pool.execute("t-a", "open('a.txt').read(), 'v' in globals()")
    assert r.result == "('a', False)"
    assert r.state_lost
    assert r.notice is not None


async def test_idle_sessions_expire(small_pool: SessionPool) -> None:
    await small_pool.execute("t-idle", "v = 1")
    small_pool.limits = dataclasses.replace(small_pool.limits, idle_ttl_s=0.0)
    try:
        await small_pool.expire_idle()
    finally:
        small_pool.limits = small_pool.sandbox.limits
    r = await small_pool.execute("t-idle", "'v' in globals()")
    assert r.result == "False"
    assert r.state_lost


def test_thread_ids_cannot_escape_the_pool_dir(small_pool: SessionPool) -> None:
    for bad in ("../x", "a/b", "", ".", "x" * 200):
        with pytest.raises(ValueError, match="invalid thread id"):
            small_pool.workdir(bad)


async def test_closed_sessions_report_lost_state_and_others_keep_theirs(
    small_pool: SessionPool,
) -> None:
    """A partition handed to another replica: its threads' sessions go, the rest stay."""
    await small_pool.execute("t-moved", "v = 'moved'")
    await small_pool.execute("t-kept", "v = 'kept'")
    assert await small_pool.close_sessions(lambda thread: thread == "t-moved") == 1
    assert not small_pool.has_session("t-moved")
    kept = await small_pool.execute("t-kept", "v")
    assert kept.result == repr("kept")
    assert not kept.state_lost
    moved = await small_pool.execute("t-moved", "print('back')")
    assert moved.state_lost


async def test_a_thread_marked_lost_is_told_on_its_first_execution_here(
    small_pool: SessionPool,
) -> None:
    # Its last code ran in another replica's session.
    await small_pool.align("t-elsewhere", "run_elsewhere")
    first = await small_pool.execute("t-elsewhere", "1")
    assert first.state_lost
    assert not (await small_pool.execute("t-elsewhere", "2")).state_lost


async def test_a_session_is_kept_while_the_thread_s_last_code_ran_in_it(
    small_pool: SessionPool,
) -> None:
    # Issue 12: a database blip lost the partition leases and closed every session; a replica
    # that takes its partitions back now keeps them, unless code of the thread ran elsewhere.
    await small_pool.execute("t-blip", "v = 'kept'")
    small_pool.note_run("t-blip", "run_1")
    await small_pool.align("t-blip", "run_1")
    kept = await small_pool.execute("t-blip", "v")
    assert kept.result == repr("kept")
    assert not kept.state_lost
    await small_pool.align("t-blip", "run_2")  # run_2's code ran in another replica
    stale = await small_pool.execute("t-blip", "'v' in globals()")
    assert stale.result == "False"
    assert stale.state_lost
