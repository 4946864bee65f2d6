"""Fixtures for end-to-end tests: an isolated RabbitMQ vhost, the distributed system."""

import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pytest

from tests.e2e.processes import (
    Service,
    free_port,
    run_to_completion,
    running,
    service_env,
    wait_until_http_ready,
)


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


@dataclass
class Distributed:
    """The distributed system's processes and how to reach them."""

    base_url: str
    env: dict[str, str]
    files_env: dict[str, str]
    runs_env: dict[str, str]
    logs: Path
    services: dict[str, Service] = field(default_factory=dict)
    ops_urls: dict[str, str] = field(default_factory=dict)  # service -> base URL of /readyz

    def client(self) -> httpx.Client:
        """An HTTP client of the gateway."""
        return httpx.Client(base_url=self.base_url, timeout=30.0)

    def restart(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stop a service with `sig` (waiting for it to exit) and start it again, same env."""
        old = self.services[name]
        old.stop(sig, timeout=90)
        self.services[name] = Service(name, old.module, old.env, self.logs)
        if name in self.ops_urls:  # back when it answers again
            wait_until_http_ready(f"{self.ops_urls[name]}/healthz", [self.services[name]])


@pytest.fixture(scope="session")
def distributed_env(postgres_url: str, isolated_amqp_url: str) -> dict[str, str]:
    """What every service process of the distributed system gets in its environment."""
    return service_env({"CIE_DATABASE_URL": postgres_url, "CIE_AMQP_URL": isolated_amqp_url})


@pytest.fixture(scope="session")
def system(
    distributed_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Distributed]:
    """gateway, thread-, run- and file-service and relay as OS processes, after the migrations."""
    env = distributed_env
    for job in ("gateway.migrate", "file_service.migrate"):
        migrated = run_to_completion(job, env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    port, files_port = free_port(), free_port()
    files_env = {
        **env,
        "CIE_FILE_SERVICE_PORT": str(files_port),
        "CIE_BLOB_DIR": str(tmp_path_factory.mktemp("blobs")),
    }
    gateway_env = {
        **env,
        "PORT": str(port),
        "CIE_FILE_SERVICE_URL": f"http://127.0.0.1:{files_port}",
    }
    runs_env = {
        **env,
        "CIE_FILE_SERVICE_URL": f"http://127.0.0.1:{files_port}",
        "CIE_SANDBOX_DIR": str(tmp_path_factory.mktemp("sandbox")),
        "CIE_SANDBOX_EXEC_TIMEOUT_S": "20",
    }
    logs = tmp_path_factory.mktemp("logs")
    system = Distributed(f"http://127.0.0.1:{port}", env, files_env, runs_env, logs)
    ops_ports = {name: free_port() for name in ("thread-service", "relay", "run-service")}
    runs_env["CIE_OPS_PORT"] = str(ops_ports["run-service"])
    system.ops_urls = {name: f"http://127.0.0.1:{port}" for name, port in ops_ports.items()}
    system.ops_urls["gateway"] = system.base_url
    system.ops_urls["file-service"] = f"http://127.0.0.1:{files_port}"
    system.services.update(
        {
            "thread-service": Service(
                "thread-service",
                "thread_service",
                {**env, "CIE_OPS_PORT": str(ops_ports["thread-service"])},
                logs,
            ),
            "relay": Service(
                "relay",
                "eventkit.relay_main",
                {**env, "CIE_OPS_PORT": str(ops_ports["relay"])},
                logs,
            ),
            "file-service": Service("file-service", "file_service", files_env, logs),
            "run-service": Service("run-service", "run_service", runs_env, logs),
            "gateway": Service("gateway", "gateway", gateway_env, logs),
        }
    )
    with running(system.services):
        processes = list(system.services.values())
        wait_until_http_ready(f"{system.base_url}/", processes)
        for url in system.ops_urls.values():
            wait_until_http_ready(f"{url}/healthz", processes)
        yield system
