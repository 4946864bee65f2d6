"""Sandboxed, persistent Python sessions (one per thread) with a warm pool."""

from run_service.sandbox.limits import SandboxLimits
from run_service.sandbox.pool import SessionPool
from run_service.sandbox.sandbox import (
    BubblewrapSandbox,
    RlimitSandbox,
    Sandbox,
    SandboxUnavailable,
    UnavailableSandbox,
    default_sandbox,
)
from run_service.sandbox.session import ExecResult, Session, SessionDied

__all__ = [
    "BubblewrapSandbox",
    "ExecResult",
    "RlimitSandbox",
    "Sandbox",
    "SandboxLimits",
    "SandboxUnavailable",
    "Session",
    "SessionDied",
    "SessionPool",
    "UnavailableSandbox",
    "default_sandbox",
]
