"""Sandboxed, persistent Python sessions (one per thread) with a warm pool."""

from run_service.sandbox.limits import SandboxLimits
from run_service.sandbox.pool import SessionPool
from run_service.sandbox.sandbox import (
    BubblewrapSandbox,
    RlimitSandbox,
    Sandbox,
    default_sandbox,
)
from run_service.sandbox.session import ExecResult, Session, SessionDied

__all__ = [
    "BubblewrapSandbox",
    "ExecResult",
    "RlimitSandbox",
    "Sandbox",
    "SandboxLimits",
    "Session",
    "SessionDied",
    "SessionPool",
    "default_sandbox",
]
