"""pytest plugin: the `amqp_url` fixture, a RabbitMQ broker for tests marked `rabbitmq`.

Where the broker comes from, in order:
1. CIE_TEST_AMQP_URL, when set;
2. a testcontainers RabbitMQ, when a Docker engine answers;
3. the local default, amqp://guest:guest@127.0.0.1:5672/.
If that broker does not answer, tests needing it fail under CI=true (a CI run must not pass
by skipping them) and are skipped elsewhere.
"""

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from urllib.parse import quote, urlsplit

import aio_pika
import pytest
import pytest_asyncio

ENV_URL = "CIE_TEST_AMQP_URL"
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"
# Same minor as Debian 12's rabbitmq-server, whose delivery-limit semantics the bus relies on.
CONTAINER_IMAGE = "rabbitmq:3.10"


def docker_answers(timeout: float = 5.0) -> bool:
    """Whether a Docker engine responds to `docker info` within `timeout` seconds."""
    try:
        result = subprocess.run(
            ["docker", "info"], capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


async def broker_answers(url: str, timeout: float = 5.0) -> bool:
    """Whether an AMQP broker accepts a connection at `url`."""
    try:
        connection = await aio_pika.connect(url, timeout=timeout)
    except Exception:
        return False
    await connection.close()
    return True


def unavailable(reason: str) -> None:
    """Fail under CI=true, skip otherwise."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"RabbitMQ is required under CI: {reason}", pytrace=False)
    pytest.skip(f"no RabbitMQ broker: {reason}")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def amqp_url() -> AsyncIterator[str]:
    """URL of a RabbitMQ broker for this test session."""
    url = os.environ.get(ENV_URL)
    container = None
    if url is None and await asyncio.to_thread(docker_answers):
        from testcontainers.community.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer(CONTAINER_IMAGE)
        try:
            await asyncio.to_thread(container.start)
        except Exception as exc:
            unavailable(f"could not start a {CONTAINER_IMAGE} container: {exc!r}")
        host, port = container.get_container_host_ip(), container.get_exposed_port(container.port)
        url = f"amqp://{container.username}:{container.password}@{host}:{port}/"
        if container.vhost != "/":
            url += quote(container.vhost, safe="")
    url = url or DEFAULT_URL
    try:
        if not await broker_answers(url):
            where = urlsplit(url)  # host and port only: the URL may hold a password
            unavailable(f"nothing answers at {where.hostname}:{where.port or 5672} (set {ENV_URL})")
        yield url
    finally:
        if container is not None:
            await asyncio.to_thread(container.stop)
