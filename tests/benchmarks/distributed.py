"""The distributed system for benchmarks: gateway, thread-, run- and file-service and relay as
processes, on a fresh PostgreSQL database (dropped afterwards) and a fresh RabbitMQ vhost when
rabbitmqctl can make one (else the URL's vhost)."""

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.bench_files_gateway import AMQP_URL, create_database, drop_database
from tests.e2e.processes import (
    Service,
    free_port,
    fresh_vhost,
    run_to_completion,
    running,
    service_env,
    wait_until_http_ready,
)

READY_TIMEOUT_S = 90.0


@dataclass
class DistributedSystem:
    """The running processes and how to reach them."""

    base_url: str
    amqp_url: str
    runs_env: dict[str, str]  # run-service's environment: another replica starts from it
    logs: Path  # every service's log, and a directory of the system's own for anything else
    services: dict[str, Service]

    def ops_url(self, env: dict[str, str]) -> str:
        """Where the service started with `env` answers /readyz and /metrics."""
        return f"http://127.0.0.1:{env['CIE_OPS_PORT']}"


def wait_for_log(service: Service, text: str, services: list[Service]) -> None:
    """Wait until `service` logged `text`; fail, with logs, if one of `services` died."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while text not in service.log():
        for other in services:
            if other.process.poll() is not None:
                raise AssertionError(f"{other.name} exited early:\n{other.log()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{service.name} not ready:\n{service.log()}")
        time.sleep(0.01)


@contextlib.contextmanager
def distributed_system(prefix: str) -> Iterator[DistributedSystem]:
    """Every service started and ready; all stopped, the database dropped, at the end."""
    name, database_url = asyncio.run(create_database())
    try:
        with (
            fresh_vhost(AMQP_URL, "cie-bench") as amqp_url,
            tempfile.TemporaryDirectory(prefix=prefix) as tmp,
        ):
            yield from _started(database_url, amqp_url, Path(tmp))
    finally:
        asyncio.run(drop_database(name))


def _started(database_url: str, amqp_url: str, tmp: Path) -> Iterator[DistributedSystem]:
    port, files_port = free_port(), free_port()
    files_url = f"http://127.0.0.1:{files_port}"
    common = {"CIE_DATABASE_URL": database_url, "CIE_AMQP_URL": amqp_url}
    quiet = service_env({**common, "CIE_LOG_LEVEL": "WARNING"})
    # INFO (the default) for the services whose readiness is read from their log; of them only
    # run-service logs per request (one line per run).
    told = service_env({**common, "CIE_LOG_LEVEL": "INFO"})

    def ops(env: dict[str, str]) -> dict[str, str]:
        """`env` with a port of its own for the service's /healthz, /readyz, /metrics."""
        return {**env, "CIE_OPS_PORT": str(free_port())}

    runs_env = {**ops(told), "CIE_FILE_SERVICE_URL": files_url, "CIE_SANDBOX_DIR": f"{tmp}/sandbox"}
    files_env = {**quiet, "CIE_FILE_SERVICE_PORT": str(files_port), "CIE_BLOB_DIR": f"{tmp}/blobs"}
    gateway_env = {**quiet, "PORT": str(port), "CIE_FILE_SERVICE_URL": files_url}
    for job in ("gateway.migrate", "file_service.migrate"):
        migrated = run_to_completion(job, quiet)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    services: dict[str, Service] = {}
    with running(services):
        services["thread-service"] = Service("thread-service", "thread_service", ops(told), tmp)
        services["relay"] = Service("relay", "eventkit.relay_main", ops(told), tmp)
        services["file-service"] = Service("file-service", "file_service", files_env, tmp)
        services["run-service"] = Service("run-service", "run_service", runs_env, tmp)
        services["gateway"] = Service("gateway", "gateway", gateway_env, tmp)
        procs = list(services.values())
        base = f"http://127.0.0.1:{port}"
        wait_until_http_ready(f"{base}/", procs, READY_TIMEOUT_S)
        wait_until_http_ready(f"{files_url}/healthz", procs, READY_TIMEOUT_S)
        for service in ("thread-service", "relay", "run-service"):
            wait_for_log(services[service], f"{service} ready", procs)
        yield DistributedSystem(base, amqp_url, runs_env, tmp, services)
