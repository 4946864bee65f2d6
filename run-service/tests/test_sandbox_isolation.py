"""Choosing an adapter and reporting the isolation level."""

from __future__ import annotations

import logging
import shutil

import pytest
from sandbox_support import require_bwrap

from run_service.sandbox import BubblewrapSandbox, RlimitSandbox, default_sandbox
from run_service.sandbox import sandbox as sandbox_module


def test_missing_bwrap_falls_back_loudly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sandbox_module.bwrap, "bwrap_path", lambda: None)
    with caplog.at_level(logging.WARNING):
        chosen = default_sandbox()
    assert isinstance(chosen, RlimitSandbox)
    assert "NO namespaces" in chosen.isolation_level()
    assert "bubblewrap is NOT installed" in caplog.text


def test_bwrap_is_preferred_and_reports_its_layers() -> None:
    require_bwrap()
    chosen = default_sandbox()
    assert isinstance(chosen, BubblewrapSandbox)
    level = chosen.isolation_level()
    assert level.startswith("bubblewrap+")
    assert "net" in level
    assert "seccomp" in level


def test_missing_bwrap_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        require_bwrap()
