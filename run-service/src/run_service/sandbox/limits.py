"""Resource limits and knobs for sandboxed Python sessions."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """Per-session limits; the service's settings class fills these in."""

    memory_bytes: int = 1024 * MiB  # RLIMIT_AS: over-allocation becomes MemoryError
    # A session's cgroup, where the host allows one (sandbox/cgroups.py): all its processes
    # together, swap included; 0 turns the groups off.
    session_memory_bytes: int = 1024 * MiB
    session_cpus: float = 1.0  # a ceiling, in CPUs; under contention sessions share equally
    data_quota_bytes: int = 1024 * MiB  # what a thread's /mnt/data may hold (sandbox/quota.py)
    max_processes: int = 64  # RLIMIT_NPROC, counted per sandbox host uid
    max_file_bytes: int = 100 * MiB  # RLIMIT_FSIZE
    max_open_files: int = 256  # RLIMIT_NOFILE
    tmp_bytes: int = 64 * MiB  # size of the tmpfs /tmp
    exec_timeout_s: float = 60.0  # wall clock of one execution (one code block)
    run_code_time_s: float = 180.0  # wall clock of all the code blocks of one run together
    interrupt_grace_s: float = 2.0
    stream_cap_bytes: int = 64 * 1024  # per stream, per execution
    max_files_per_exec: int = 50
    max_read_bytes: int = 50 * MiB  # largest generated file the host will read back
    idle_ttl_s: float = 20 * 60
    max_sessions: int = 32  # live sessions bound to threads; LRU eviction beyond
    warm_pool_size: int = 2
    preload: tuple[str, ...] = ("numpy", "pandas", "matplotlib.pyplot")
    uid_base: int = 200_000  # host uids base + n are handed to sessions when run as root
