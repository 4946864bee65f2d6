"""Which sandbox runs: bubblewrap only when it really works here, and readiness says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from run_service.bootstrap import sandbox_check
from run_service.sandbox import RlimitSandbox, SandboxLimits, Session, SessionPool, default_sandbox


def test_a_bwrap_that_cannot_create_namespaces_means_the_loud_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # As in a container with the default seccomp profile: bwrap is there but refuses.
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")

    with caplog.at_level(logging.WARNING):
        sandbox = default_sandbox()

    assert isinstance(sandbox, RlimitSandbox)
    assert "cannot create namespaces" in caplog.text
    assert "No permissions to create new namespace" in caplog.text


class _Refusing:
    """A sandbox adapter whose sessions never start (what a broken host looks like)."""

    limits = SandboxLimits(warm_pool_size=1)

    def isolation_level(self) -> str:
        return "none"

    async def start(self, workdir: Path) -> Session:
        raise RuntimeError("cannot start")


async def test_readiness_fails_while_no_session_can_start(tmp_path: Path) -> None:
    pool = SessionPool(_Refusing(), tmp_path)
    await pool.start()
    try:
        with pytest.raises(RuntimeError, match="sessions cannot start"):
            await sandbox_check(pool)()
    finally:
        await pool.close()
