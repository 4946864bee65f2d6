"""Where a test service (PostgreSQL, RabbitMQ) comes from: what the pytest fixtures share.

The order, for each service:
1. the URL in its environment variable (CIE_TEST_POSTGRES_URL, CIE_TEST_AMQP_URL), when set;
2. the local service at its default URL, when it answers a quick connection (CONNECT_TIMEOUT_S);
3. a testcontainers container, when a Docker engine answers;
4. nothing: the tests needing it are skipped, or fail under CI=true (a CI run must not pass by
   skipping them).
A local service goes before Docker because a Docker engine may answer on a machine that cannot
reach an image registry. A container that does not start (an image pull that fails, say) is
reported as such, failing under CI=true and skipping elsewhere.

`decide` makes the choice from what was probed, without probing anything itself, so it is
tested without Docker or servers; `choose` probes lazily (nothing after the first answer) and
calls it.
"""

import asyncio
import enum
import os
import subprocess
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest

CONNECT_TIMEOUT_S = 2.0  # the quick check of the local default
DOCKER_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ServiceSpec:
    """A service the tests need, and where it is looked for."""

    name: str  # for messages: "PostgreSQL"
    env_var: str  # the URL to use, when set
    default_url: str  # the local service
    image: str  # the testcontainers image


class Source(enum.Enum):
    ENV = "environment"
    LOCAL = "local"
    CONTAINER = "container"
    NONE = "none"


@dataclass(frozen=True)
class Decision:
    """Where the service comes from; `url` for ENV and LOCAL (a container's is known once it
    runs); `fail`: whether the service being unavailable fails the tests rather than skips."""

    source: Source
    url: str | None
    fail: bool


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this is a CI run (CI=true), where a missing service fails, never skips."""
    return environ.get("CI") == "true"


def decide(
    env_url: str | None,
    local_answers: bool,
    docker_answers: bool,
    *,
    default_url: str,
    ci: bool,
) -> Decision:
    """The source, in the order of the module docstring. Pure: the caller probes."""
    if env_url:
        return Decision(Source.ENV, env_url, ci)
    if local_answers:
        return Decision(Source.LOCAL, default_url, ci)
    if docker_answers:
        return Decision(Source.CONTAINER, None, ci)
    return Decision(Source.NONE, None, ci)


async def choose(
    service: ServiceSpec,
    local_answers: Callable[[str], Awaitable[bool]],
    environ: Mapping[str, str] = os.environ,
) -> Decision:
    """Probe what is needed, in order, and decide. `local_answers(url)` is the quick check."""
    env_url = environ.get(service.env_var) or None
    local = env_url is None and await local_answers(service.default_url)
    docker = env_url is None and not local and await asyncio.to_thread(docker_answers)
    return decide(env_url, local, docker, default_url=service.default_url, ci=in_ci(environ))


def docker_answers(timeout: float = DOCKER_TIMEOUT_S) -> bool:
    """Whether a Docker engine responds to `docker info` within `timeout` seconds."""
    try:
        result = subprocess.run(
            ["docker", "info"], capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def where(url: str) -> str:
    """host:port of `url`, for messages (the URL itself may hold a password)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else f"{parts.hostname}"


def nothing_message(service: ServiceSpec) -> str:
    """Why there is no service when `decide` found none."""
    return (
        f"no {service.name} for the tests: {service.env_var} is unset, nothing answers at "
        f"{where(service.default_url)} and no Docker engine answers for testcontainers; "
        f"set {service.env_var} or start {service.name} locally"
    )


def not_answering_message(service: ServiceSpec, source: Source, url: str, error: object) -> str:
    """Why the service at `url`, from the environment or a fresh container, cannot be used."""
    if source is Source.CONTAINER:
        origin = f"the testcontainers {service.image} container started but"
        remedy = f"set {service.env_var} or start {service.name} locally"
    else:
        origin = f"{service.name} from {service.env_var}"
        remedy = f"fix {service.env_var}, or unset it for the local service or testcontainers"
    return f"{origin} does not answer at {where(url)} ({error!r}); {remedy}"


def container_failed_message(service: ServiceSpec, error: BaseException) -> str:
    """Why the testcontainers fallback gave no service."""
    return (
        f"testcontainers could not start a {service.image} container for {service.name} "
        f"(a Docker engine answers, but the image pull or the container start failed: is an "
        f"image registry reachable?): {error!r}; nothing answers at "
        f"{where(service.default_url)} either: set {service.env_var} or start {service.name} "
        f"locally"
    )


def unavailable(message: str, *, fail: bool) -> NoReturn:
    """Fail the test (under CI=true: `Decision.fail`) or skip it, saying `message`."""
    if fail:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def start_container(service: ServiceSpec, make: Callable[[], Any], *, fail: bool) -> Any:
    """A testcontainers container made by `make` and started. If it cannot be made (no Docker
    client) or does not start (the image pull fails, say), whatever was made is removed and the
    test skipped, or failed when `fail`, saying that testcontainers failed and why."""
    container: Any = None
    try:
        container = make()
        container.start()
    except Exception as exc:
        if container is not None:
            stop_quietly(container)
        unavailable(container_failed_message(service, exc), fail=fail)
    return container


def stop_quietly(container: Any) -> None:
    """Stop and remove `container`, if anything of it was made."""
    try:
        container.stop()
    except Exception:  # nothing was started, or it is gone: nothing to clean up
        return
