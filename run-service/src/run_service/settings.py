"""run-service configuration, from CIE_* environment variables (the model: CIE_MODEL_*)."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from run_service.sandbox import SandboxLimits

MiB = 1024 * 1024
DEFAULT_LIMITS = SandboxLimits()


class RunServiceSettings(BaseSettings):
    """Read once, in main.py (the embedded system reads the sandbox part too)."""

    model_config = SettingsConfigDict(env_prefix="CIE_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    file_service_url: str = "http://127.0.0.1:8001"
    file_service_timeout_s: float = 120.0
    # Runs of different threads at once; one thread runs one at a time. Sessions share the CPU
    # through their cgroups, so a run that spins does not hold back the others' slots.
    run_concurrency: int = 16
    run_timeout_s: float = 900.0
    shutdown_grace_s: float = 60.0  # on SIGTERM, runs in progress get this long to finish
    rebalance_interval_s: float = 1.0  # how often replicas even out the run partitions
    sandbox_dir: Path = Path("./data/sandbox")
    # bubblewrap: every isolation layer, or no code runs at all. none: rlimits only, for code
    # an operator trusts (every answer of such a run says so). Never chosen by default.
    sandbox_isolation: Literal["bubblewrap", "none"] = "bubblewrap"
    sandbox_bwrap: str = ""  # a bwrap to use instead of the packaged one, e.g. /usr/bin/bwrap
    # The defaults are SandboxLimits' own (sandbox/limits.py): written once, there.
    sandbox_exec_timeout_s: float = DEFAULT_LIMITS.exec_timeout_s
    sandbox_run_code_time_s: float = DEFAULT_LIMITS.run_code_time_s
    sandbox_memory_mb: int = DEFAULT_LIMITS.memory_bytes // MiB
    sandbox_session_memory_mb: int = DEFAULT_LIMITS.session_memory_bytes // MiB
    sandbox_cpus: float = DEFAULT_LIMITS.session_cpus
    sandbox_data_quota_mb: int = DEFAULT_LIMITS.data_quota_bytes // MiB
    sandbox_max_processes: int = DEFAULT_LIMITS.max_processes
    sandbox_max_file_mb: int = DEFAULT_LIMITS.max_file_bytes // MiB
    sandbox_tmp_mb: int = DEFAULT_LIMITS.tmp_bytes // MiB
    sandbox_idle_ttl_s: float = DEFAULT_LIMITS.idle_ttl_s
    sandbox_max_sessions: int = DEFAULT_LIMITS.max_sessions
    sandbox_warm_pool: int = DEFAULT_LIMITS.warm_pool_size
    # First of the host uids sessions get as root (each claimed host-wide, sandbox/uids.py).
    sandbox_uid_base: int = Field(default=DEFAULT_LIMITS.uid_base, ge=1000, le=2**31 - 60_000)
    log_level: str = "INFO"
    host: str = "127.0.0.1"  # where the operations endpoints listen (0.0.0.0 in containers)
    ops_port: int = 9000  # /healthz, /readyz, /metrics
    log_json: bool = True  # JSON lines with correlation ids; false: plain text

    def sandbox_limits(self) -> SandboxLimits:
        """The per-session limits these settings ask for."""
        return SandboxLimits(
            memory_bytes=self.sandbox_memory_mb * MiB,
            session_memory_bytes=self.sandbox_session_memory_mb * MiB,
            session_cpus=self.sandbox_cpus,
            data_quota_bytes=self.sandbox_data_quota_mb * MiB,
            run_code_time_s=self.sandbox_run_code_time_s,
            max_processes=self.sandbox_max_processes,
            max_file_bytes=self.sandbox_max_file_mb * MiB,
            tmp_bytes=self.sandbox_tmp_mb * MiB,
            exec_timeout_s=self.sandbox_exec_timeout_s,
            idle_ttl_s=self.sandbox_idle_ttl_s,
            max_sessions=self.sandbox_max_sessions,
            warm_pool_size=self.sandbox_warm_pool,
            uid_base=self.sandbox_uid_base,
        )
