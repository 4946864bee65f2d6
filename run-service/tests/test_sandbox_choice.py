"""Which sandbox runs: bubblewrap from the Python environment, failing closed when it cannot
isolate; code runs without isolation only when an operator asks for it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from sandbox_support import require_bwrap

from run_service.bootstrap import sandbox_check, session_pool
from run_service.sandbox import (
    BubblewrapSandbox,
    RlimitSandbox,
    SandboxLimits,
    SandboxUnavailable,
    Session,
    SessionPool,
    UnavailableSandbox,
    default_sandbox,
)
from run_service.sandbox import bwrap as bwrap_module
from run_service.testing.fake_bwrap import refusing_bwrap


def test_the_packaged_bwrap_is_used_without_anything_on_the_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    packaged = require_bwrap()
    monkeypatch.setenv("PATH", "/nonexistent")

    chosen = default_sandbox()

    assert isinstance(chosen, BubblewrapSandbox)
    assert chosen.exe == packaged
    assert "site-packages" in packaged
    level = chosen.isolation_level()
    assert level.startswith("bubblewrap+")
    assert "net" in level
    assert "seccomp" in level
    assert chosen.warning() is None


def test_a_system_bwrap_on_the_path_is_not_used_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_bwrap()
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    refusing_bwrap(tmp_path)  # would make every session fail if it were picked up

    assert isinstance(default_sandbox(), BubblewrapSandbox)


async def test_a_bwrap_that_cannot_create_namespaces_means_no_code_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        chosen = default_sandbox(bwrap_exe=refusing_bwrap(tmp_path))

    assert isinstance(chosen, UnavailableSandbox)
    assert "No permissions to create new namespace" in chosen.reason
    assert "CIE_SANDBOX_ISOLATION=none" in chosen.reason  # the way out is named
    assert "no code can run" in caplog.text
    with pytest.raises(SandboxUnavailable, match="cannot create its sandbox here"):
        await chosen.start(tmp_path)


async def test_without_a_packaged_bwrap_no_code_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bwrap_module, "packaged_bwrap", lambda: None)

    chosen = default_sandbox()

    assert isinstance(chosen, UnavailableSandbox)
    assert "CIE_SANDBOX_BWRAP" in chosen.reason
    with pytest.raises(SandboxUnavailable):
        await chosen.start(tmp_path)


@pytest.mark.parametrize(
    ("configured", "said"),
    [
        ("missing/bwrap", "must be an absolute path"),
        ("bwrap", "must be an absolute path"),  # never looked up on the PATH
        ("/nonexistent/bwrap", "is not an executable file"),
        ("/usr/bin", "is not an executable file"),
        ("/etc/passwd", "is not an executable file"),
    ],
)
def test_a_configured_bwrap_that_cannot_be_run_is_named(configured: str, said: str) -> None:
    chosen = default_sandbox(bwrap_exe=configured)

    assert isinstance(chosen, UnavailableSandbox)
    assert f"CIE_SANDBOX_BWRAP={configured} {said}" in chosen.reason


def test_a_bwrap_that_does_not_isolate_is_refused(tmp_path: Path) -> None:
    # A wrapper that just runs its command line would run code on the host as it is.
    fake = tmp_path / "bwrap"
    fake.write_text('#!/bin/sh\necho "$(readlink /proc/self/ns/net) $(id -u) $(pwd)"\n')
    fake.chmod(0o755)
    tmp_path.chmod(0o755)

    chosen = default_sandbox(bwrap_exe=str(fake))

    assert isinstance(chosen, UnavailableSandbox)
    assert "it does not isolate" in chosen.reason


@pytest.mark.skipif(os.geteuid() != 0, reason="per-session uids need root")
def test_the_probe_runs_as_the_session_uid(tmp_path: Path) -> None:
    # Where unprivileged user namespaces are off, root's bwrap works but a session's does not.
    real = require_bwrap()
    fake = tmp_path / "bwrap"
    fake.write_text(
        f'#!/bin/sh\n[ "$(id -u)" = 0 ] && exec {real} "$@"\n'
        "echo 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    tmp_path.chmod(0o755)

    chosen = default_sandbox(bwrap_exe=str(fake))

    assert isinstance(chosen, UnavailableSandbox)
    assert "setting up uid map: Permission denied" in chosen.reason


def test_no_isolation_only_when_asked_for_and_said_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        chosen = default_sandbox(isolation="none")

    assert isinstance(chosen, RlimitSandbox)
    assert chosen.isolation_level().startswith("none:")
    assert "without isolation" in (chosen.warning() or "")
    assert "CIE_SANDBOX_ISOLATION=none" in caplog.text


def test_an_unknown_isolation_level_is_refused() -> None:
    with pytest.raises(ValueError, match="CIE_SANDBOX_ISOLATION"):
        default_sandbox(isolation="bwrap-ish")


def test_missing_bwrap_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bwrap_module, "packaged_bwrap", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        require_bwrap()


class _Refusing:
    """A sandbox adapter whose sessions never start (what a broken host looks like)."""

    limits = SandboxLimits(warm_pool_size=1)

    def isolation_level(self) -> str:
        return "none"

    def warning(self) -> str | None:
        return None

    def release(self) -> None:
        pass

    async def start(self, workdir: Path) -> Session:
        raise RuntimeError("cannot start")


async def test_readiness_fails_while_no_session_can_start(tmp_path: Path) -> None:
    pool = SessionPool(_Refusing(), tmp_path)
    await pool.start()
    await pool.filled()
    try:
        with pytest.raises(RuntimeError, match="sessions cannot start"):
            await sandbox_check(pool)()
    finally:
        await pool.close()


async def test_readiness_names_why_no_code_can_run(tmp_path: Path) -> None:
    pool = SessionPool(UnavailableSandbox("bwrap refused (the fix)"), tmp_path)
    await pool.start()
    try:
        with pytest.raises(RuntimeError, match=r"no code can run: bwrap refused \(the fix\)"):
            await sandbox_check(pool)()
        with pytest.raises(SandboxUnavailable, match="the fix"):
            await pool.execute("thread_x", "print(1)")
    finally:
        await pool.close()


async def test_the_start_up_log_names_the_isolation_in_force(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="run_service.bootstrap"):
        async with session_pool(tmp_path, SandboxLimits(warm_pool_size=0), "none"):
            pass

    (line,) = [r.getMessage() for r in caplog.records if "isolation in force" in r.getMessage()]
    assert line == f"sandbox isolation in force: {RlimitSandbox().isolation_level()}"
