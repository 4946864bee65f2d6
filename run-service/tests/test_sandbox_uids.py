"""Session uids are claimed host-wide: two run-service processes on one host never share one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from run_service.sandbox.uids import HostUids, UidsExhausted
from run_service.settings import RunServiceSettings

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="uids are switched only as root")

HOLD = """
import sys, time
from run_service.sandbox.uids import HostUids
uids = HostUids(int(sys.argv[1]), sys.argv[2])
print(*[uids.take() for _ in range(int(sys.argv[3]))], flush=True)
time.sleep(60)
"""


def test_another_process_never_gets_a_uid_held_here(tmp_path: Path) -> None:
    here = HostUids(300_000, str(tmp_path))
    mine = {here.take() for _ in range(5)}
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD, "300000", str(tmp_path), "5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None
        theirs = {int(uid) for uid in other.stdout.readline().split()}
    finally:
        other.kill()
        other.wait()

    assert len(mine) == len(theirs) == 5
    assert not mine & theirs


def test_a_process_that_dies_gives_its_uids_back(tmp_path: Path) -> None:
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD, "300000", str(tmp_path), "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdout is not None
    held = {int(uid) for uid in other.stdout.readline().split()}
    other.kill()
    other.wait()

    here = HostUids(300_000, str(tmp_path))
    assert {here.take() for _ in range(3)} == held


def test_a_uid_given_back_can_be_taken_again_and_the_range_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("run_service.sandbox.uids.SPAN", 2)
    uids = HostUids(300_000, str(tmp_path))
    first, second = uids.take(), uids.take()
    with pytest.raises(UidsExhausted):
        uids.take()
    uids.give_back(first)
    uids.give_back(first)  # twice is harmless

    assert uids.take() == first
    assert uids.held == {first, second}


def test_two_sandboxes_in_one_process_never_share_a_uid() -> None:
    # Each sandbox used to count from uid_base on its own: two pools (or replicas) handed out
    # the same uids, sharing one RLIMIT_NPROC budget.
    from run_service.sandbox import BubblewrapSandbox, RlimitSandbox, SandboxLimits

    limits = SandboxLimits(uid_base=310_000)
    first, second = RlimitSandbox(limits), BubblewrapSandbox(limits, exe="/bin/true")
    taken = [first._uids.take(), second._uids.take(), first._uids.take(), second._uids.take()]
    try:
        assert len(set(taken)) == 4, taken
    finally:
        for uid in taken:
            first._uids.give_back(uid)
            second._uids.give_back(uid)


def test_the_uid_range_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIE_SANDBOX_UID_BASE", "400000")
    limits = RunServiceSettings().sandbox_limits()
    assert limits.uid_base == 400_000
    uids = HostUids(limits.uid_base)
    taken = uids.take()
    try:
        assert taken is not None
        assert 400_000 <= taken < 450_000
    finally:
        uids.give_back(taken)
    monkeypatch.setenv("CIE_SANDBOX_UID_BASE", "0")  # root's own uid range: refused
    with pytest.raises(ValueError, match="sandbox_uid_base"):
        RunServiceSettings()
