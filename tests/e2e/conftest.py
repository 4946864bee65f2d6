"""Fixtures for end-to-end tests: an isolated RabbitMQ virtual host per test session."""

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import pytest


@pytest.fixture(scope="session")
def isolated_amqp_url(amqp_url: str) -> Iterator[str]:
    """`amqp_url` on a fresh virtual host, so the fixed queue names do not meet other runs."""
    ctl = shutil.which("rabbitmqctl")
    host = urlsplit(amqp_url).hostname
    if ctl is None or host not in ("127.0.0.1", "localhost"):
        yield amqp_url  # a broker of its own (e.g. a test container) is isolated already
        return
    vhost = f"cie-test-{uuid.uuid4().hex[:10]}"
    subprocess.run([ctl, "-q", "add_vhost", vhost], check=True, timeout=60)
    subprocess.run(
        [ctl, "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        timeout=60,
    )
    parts = urlsplit(amqp_url)
    yield urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))
    subprocess.run([ctl, "-q", "delete_vhost", vhost], check=False, timeout=60)
