"""The environment `deploy/compose.yaml` gives each service, for running it as a local process.

The e2e system starts every service with exactly the variables compose sets, only with this
machine's addresses, ports and directories in place of the containers' (`local` overrides).
"""

import re
from pathlib import Path
from typing import Any

import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"
_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")
TEST_ONLY = frozenset({"CIE_SANDBOX_EXEC_TIMEOUT_S"})
"""Overrides the tests add on purpose (a shorter execution limit)."""


def compose_environment(service: str) -> dict[str, str]:
    """The service's `environment` in compose, `${VAR:-default}` read as its default.

    Variables compose passes through from the host without a value (the model's) are left out.
    """
    compose: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    declared = compose["services"][service].get("environment") or {}
    return {
        name: _DEFAULTED.sub(lambda m: m.group(2), str(value))
        for name, value in declared.items()
        if value is not None
    }


def local_environment(service: str, local: dict[str, str]) -> dict[str, str]:
    """Compose's variables for `service`, with `local` in place of container addresses.

    Every name in `local` must be one compose sets too, so the e2e system cannot drift from it.
    """
    env = compose_environment(service)
    unknown = sorted(set(local) - set(env) - TEST_ONLY)
    assert not unknown, f"{service}: compose does not set {unknown}"
    return {**env, **local}
