"""Start services as real OS processes for end-to-end tests, and stop them cleanly."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def service_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment a service process gets: ours, minus CIE_* leftovers, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CIE_")}
    env.update(extra)
    return env


class Service:
    """One running service process, its output captured in a log file."""

    def __init__(self, name: str, module: str, env: Mapping[str, str], logs: Path) -> None:
        self.name = name
        self.module = module
        self.env = dict(env)
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the process and wait for it to exit; kill it if it does not."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._log.close()
        return self.process.returncode


def run_to_completion(
    module: str, env: Mapping[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """Run `python -m module args` and return its result (output captured)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_until_http_ready(url: str, services: list[Service], timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200; fail early, with logs, if a service died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for service in services:
            if service.process.poll() is not None:
                raise AssertionError(f"{service.name} exited early:\n{service.log()}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    logs = "\n".join(f"--- {s.name}\n{s.log()}" for s in services)
    raise AssertionError(f"{url} not ready after {timeout} s\n{logs}")


@contextmanager
def running(services: dict[str, Service]) -> Iterator[dict[str, Service]]:
    """Stop every service in `services` at the end (as it is then), whatever happens."""
    try:
        yield services
    finally:
        for service in reversed(list(services.values())):
            service.stop()


@contextmanager
def fresh_vhost(url: str, prefix: str) -> Iterator[str]:
    """`url` on a fresh RabbitMQ virtual host, deleted afterwards, so fixed queue names do not
    meet other runs; `url` itself when rabbitmqctl cannot make one here (a remote broker)."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None or urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
        yield url
        return
    vhost = f"{prefix}-{uuid.uuid4().hex[:10]}"
    subprocess.run([ctl, "-q", "add_vhost", vhost], check=True, timeout=60)
    try:
        subprocess.run(
            [ctl, "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True,
            timeout=60,
        )
        yield urlunsplit(urlsplit(url)._replace(path="/" + quote(vhost, safe="")))
    finally:
        subprocess.run([ctl, "-q", "delete_vhost", vhost], check=False, timeout=60)
