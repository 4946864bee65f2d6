"""pytest plugin: the `amqp_url` fixture, a RabbitMQ broker for tests marked `rabbitmq`.

Where the broker comes from (eventkit.testing.services), in order:
1. CIE_TEST_AMQP_URL, when set;
2. the local default, amqp://guest:guest@127.0.0.1:5672/, when it answers a quick connection;
3. a testcontainers RabbitMQ, when a Docker engine answers;
4. none: tests needing it fail under CI=true (a CI run must not pass by skipping them) and are
   skipped elsewhere. A container that does not start (an image that cannot be pulled, say) is
   reported as such, with the same fail or skip.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aio_pika
import pytest_asyncio

from eventkit.testing.services import (
    CONNECT_TIMEOUT_S,
    ServiceSpec,
    Source,
    choose,
    not_answering_message,
    nothing_message,
    start_container,
    unavailable,
)

ENV_URL = "CIE_TEST_AMQP_URL"
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"
# Same minor as Debian 12's rabbitmq-server, whose delivery-limit semantics the bus relies on.
CONTAINER_IMAGE = "rabbitmq:3.10"
BROKER_TIMEOUT_S = 5.0  # a broker named in the environment, or a fresh container
RABBITMQ = ServiceSpec("RabbitMQ", ENV_URL, DEFAULT_URL, CONTAINER_IMAGE)


async def broker_error(url: str, timeout: float = BROKER_TIMEOUT_S) -> BaseException | None:
    """None when an AMQP broker accepts a connection at `url` within `timeout` s, else why not."""
    try:
        connection = await aio_pika.connect(url, timeout=timeout)
    except Exception as exc:
        return exc
    await connection.close()
    return None


async def broker_answers(url: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether an AMQP broker accepts a connection at `url` within `timeout` s."""
    return await broker_error(url, timeout) is None


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def amqp_url() -> AsyncIterator[str]:
    """URL of a RabbitMQ broker for this test session."""
    decision = await choose(RABBITMQ, broker_answers)
    container: Any = None
    try:
        if decision.source is Source.NONE:
            unavailable(nothing_message(RABBITMQ), fail=decision.fail)
        if decision.source is Source.CONTAINER:
            container, url = await asyncio.to_thread(_start_container, decision.fail)
        else:
            assert decision.url is not None
            url = decision.url
        if decision.source is not Source.LOCAL:  # the local one answered just now
            error = await broker_error(url)
            if error is not None:
                unavailable(
                    not_answering_message(RABBITMQ, decision.source, url, error), fail=decision.fail
                )
        yield url
    finally:
        if container is not None:
            await asyncio.to_thread(container.stop)


def _start_container(fail: bool) -> tuple[Any, str]:
    """A started RabbitMQ container and its URL; on failure, skip or fail saying so."""
    from testcontainers.community.rabbitmq import RabbitMqContainer

    container = start_container(RABBITMQ, lambda: RabbitMqContainer(CONTAINER_IMAGE), fail=fail)
    host, port = container.get_container_host_ip(), container.get_exposed_port(container.port)
    url = f"amqp://{container.username}:{container.password}@{host}:{port}/"
    if container.vhost != "/":
        url += quote(container.vhost, safe="")
    return container, url
