"""Stand-in bwrap binaries for tests of how the sandbox is chosen (never for running code)."""

from __future__ import annotations

from pathlib import Path

REFUSAL = "bwrap: No permissions to create new namespace"


def refusing_bwrap(directory: Path) -> str:
    """A bwrap like one in a container whose seccomp profile forbids namespaces: it says
    so and fails. Written to `directory`, opened to the session uids that would run it."""
    fake = directory / "bwrap"
    fake.write_text(f"#!/bin/sh\necho '{REFUSAL}' >&2\nexit 1\n")
    fake.chmod(0o755)
    directory.chmod(0o755)  # a session uid runs it, as it would a system bwrap
    return str(fake)
