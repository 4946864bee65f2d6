"""A libseccomp filter, exported as BPF for `bwrap --seccomp FD`."""

from __future__ import annotations

import errno
import logging
import os
import socket

log = logging.getLogger(__name__)

# Syscalls user code never needs and that widen the kernel attack surface or allow escapes.
DENIED = (
    "ptrace",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "personality",
    "process_vm_readv",
    "process_vm_writev",
    "kexec_load",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
    "io_uring_setup",
)


def seccomp_available() -> bool:
    """True when libseccomp can be loaded through pyseccomp."""
    try:
        import pyseccomp  # type: ignore[import-untyped]  # noqa: F401
    except Exception:
        return False
    return True


def build_filter_fd() -> int:
    """Return a readable fd holding the BPF program (the caller passes it on and closes it)."""
    import pyseccomp as sc

    f = sc.SyscallFilter(sc.ALLOW)
    eperm = sc.ERRNO(errno.EPERM)
    for name in DENIED:
        f.add_rule(eperm, name)
    # Sockets: only AF_UNIX (the worker needs none; some libraries probe unix sockets).
    # One comparison per rule: libseccomp rejects two on the same argument (sandbox.md §3.6).
    f.add_rule(eperm, "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    f.add_rule(eperm, "socketpair", sc.Arg(0, sc.NE, socket.AF_UNIX))
    fd = os.memfd_create("cie-seccomp", 0)
    with os.fdopen(os.dup(fd), "wb") as out:
        f.export_bpf(out)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
