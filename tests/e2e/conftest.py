"""Fixtures for end-to-end tests: an isolated RabbitMQ vhost, the distributed system."""

import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.e2e.compose_env import local_environment
from tests.e2e.otlp_collector import Collector, running_collector
from tests.e2e.processes import (
    Service,
    free_port,
    fresh_vhost,
    run_to_completion,
    running,
    service_env,
    wait_until_http_ready,
)


@pytest.fixture(scope="session")
def isolated_amqp_url(amqp_url: str) -> Iterator[str]:
    """`amqp_url` on a fresh virtual host, so the fixed queue names do not meet other runs."""
    with fresh_vhost(amqp_url, "cie-test") as url:
        yield url


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
    """The addresses of this machine's database and broker, as every service gets them."""
    return service_env({"CIE_DATABASE_URL": postgres_url, "CIE_AMQP_URL": isolated_amqp_url})


@pytest.fixture(scope="session")
def otlp_collector() -> Iterator[Collector]:
    """Where every service of `system` sends its spans (OTLP/HTTP)."""
    with running_collector() as collector:
        yield collector


@pytest.fixture(scope="session")
def system(
    distributed_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    otlp_collector: Collector,
) -> Iterator[Distributed]:
    """gateway, thread-, run- and file-service and relay as OS processes, after the migrations,
    each with the environment deploy/compose.yaml gives it (local addresses in place), and
    tracing on, to `otlp_collector`."""
    env = distributed_env
    tracing = {"CIE_TRACE_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_collector.url}
    stores = {name: env[name] for name in ("CIE_DATABASE_URL", "CIE_AMQP_URL")}
    migrate_env = {
        **env,
        **local_environment("migrate", {"CIE_DATABASE_URL": env["CIE_DATABASE_URL"]}),
    }
    for job in ("gateway.migrate", "file_service.migrate"):
        migrated = run_to_completion(job, migrate_env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    port, files_port = free_port(), free_port()
    ops_ports = {name: free_port() for name in ("thread-service", "relay", "run-service")}
    files_url = f"http://127.0.0.1:{files_port}"
    local = {
        "gateway": {**stores, "PORT": str(port), "CIE_FILE_SERVICE_URL": files_url},
        "file-service": {
            "CIE_DATABASE_URL": env["CIE_DATABASE_URL"],
            "CIE_FILE_SERVICE_PORT": str(files_port),
            "CIE_BLOB_DIR": str(tmp_path_factory.mktemp("blobs")),
        },
        "run-service": {
            **stores,
            "CIE_OPS_PORT": str(ops_ports["run-service"]),
            "CIE_FILE_SERVICE_URL": files_url,
            "CIE_SANDBOX_DIR": str(tmp_path_factory.mktemp("sandbox")),
            "CIE_SANDBOX_EXEC_TIMEOUT_S": "20",
        },
        "thread-service": {**stores, "CIE_OPS_PORT": str(ops_ports["thread-service"])},
        "relay": {**stores, "CIE_OPS_PORT": str(ops_ports["relay"])},
    }
    envs = {
        name: {
            **env,
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # export spans within 0.2 s (SDK tuning, not ours)
            **local_environment(name, {"CIE_HOST": "127.0.0.1", **tracing, **values}),
        }
        for name, values in local.items()
    }
    logs = tmp_path_factory.mktemp("logs")
    system = Distributed(
        f"http://127.0.0.1:{port}", env, envs["file-service"], envs["run-service"], logs
    )
    system.ops_urls = {name: f"http://127.0.0.1:{port}" for name, port in ops_ports.items()}
    system.ops_urls["gateway"] = system.base_url
    system.ops_urls["file-service"] = files_url
    modules = {
        "thread-service": "thread_service",
        "relay": "eventkit.relay_main",
        "file-service": "file_service",
        "run-service": "run_service",
        "gateway": "gateway",
    }
    system.services.update(
        {name: Service(name, module, envs[name], logs) for name, module in modules.items()}
    )
    with running(system.services):
        processes = list(system.services.values())
        wait_until_http_ready(f"{system.base_url}/", processes)
        for url in system.ops_urls.values():
            wait_until_http_ready(f"{url}/healthz", processes)
        yield system
