"""A seccomp deny-list filter, assembled here as classic BPF for `bwrap --seccomp FD`.

No libseccomp: the program is a handful of `struct sock_filter` entries built by a tiny
assembler below. Layout (every jump goes forward, offsets are computed from labels):

    ld  arch;  jeq AUDIT_ARCH_<native>  else -> kill   (i386 / arm32 compat calls die)
    ld  nr;    [x86_64: jge 0x40000000  -> eperm]       (the x32 ABI)
    jeq <each denied nr>                -> eperm
    jeq socket -> sock;  jeq socketpair -> sock  else -> allow
    sock:   ld args[0] (low 32 bits);  jeq AF_UNIX -> allow  else -> eperm
    allow:  ret ALLOW
    eperm:  ret ERRNO(EPERM)
    kill:   ret KILL_PROCESS
"""

from __future__ import annotations

import errno
import os
import platform
import struct
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

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
    # The new mount API and the rest of the handle, kexec and quota calls.
    "name_to_handle_at",
    "kexec_file_load",
    "quotactl",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
)

# Syscall numbers: arch/x86/entry/syscalls/syscall_64.tbl and include/uapi/asm-generic/unistd.h.
_X86_64 = {
    "ptrace": 101,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "unshare": 272,
    "setns": 308,
    "bpf": 321,
    "perf_event_open": 298,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "userfaultfd": 323,
    "personality": 135,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kexec_load": 246,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "open_by_handle_at": 304,
    "io_uring_setup": 425,
    "name_to_handle_at": 303,
    "kexec_file_load": 320,
    "quotactl": 179,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "socket": 41,
    "socketpair": 53,
}
_GENERIC = {  # aarch64 (and other asm-generic arches)
    "ptrace": 117,
    "mount": 40,
    "umount2": 39,
    "pivot_root": 41,
    "chroot": 51,
    "unshare": 97,
    "setns": 268,
    "bpf": 280,
    "perf_event_open": 241,
    "keyctl": 219,
    "add_key": 217,
    "request_key": 218,
    "userfaultfd": 282,
    "personality": 92,
    "process_vm_readv": 270,
    "process_vm_writev": 271,
    "kexec_load": 104,
    "init_module": 105,
    "finit_module": 273,
    "delete_module": 106,
    "open_by_handle_at": 265,
    "io_uring_setup": 425,
    "name_to_handle_at": 264,
    "kexec_file_load": 294,
    "quotactl": 60,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "socket": 198,
    "socketpair": 199,
}


@dataclass(frozen=True)
class Arch:
    """What the filter needs to know about one architecture."""

    audit: int  # AUDIT_ARCH_* as seen in seccomp_data.arch
    syscalls: Mapping[str, int]
    x32_bit: int | None = None  # syscall numbers with this bit set belong to a foreign ABI


X86_64 = Arch(0xC000003E, _X86_64, x32_bit=0x40000000)
AARCH64 = Arch(0xC00000B7, _GENERIC)
_MACHINES = {"x86_64": X86_64, "amd64": X86_64, "aarch64": AARCH64, "arm64": AARCH64}

# Classic BPF opcodes (linux/bpf_common.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
BPF_MAXINSNS = 4096
# struct seccomp_data offsets: int nr; __u32 arch; __u64 ip; __u64 args[6] (low word first).
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16
_AF_UNIX = 1
_SOCK_FILTER = struct.Struct("=HBBI")  # struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}


@dataclass(frozen=True)
class Insn:
    """One instruction; `jt`/`jf` name a label (None: fall through to the next one)."""

    code: int
    k: int = 0
    jt: str | None = None
    jf: str | None = None


def assemble(program: Sequence[Insn | str]) -> bytes:
    """Pack instructions into `sock_filter` entries; a bare string marks a label."""
    labels: dict[str, int] = {}
    insns: list[Insn] = []
    for item in program:
        if isinstance(item, str):
            labels[item] = len(insns)
        else:
            insns.append(item)

    def offset(pc: int, label: str | None) -> int:
        if label is None:
            return 0
        off = labels[label] - pc - 1
        if not 0 <= off <= 255:
            raise ValueError(f"jump to {label!r} out of range ({off})")
        return off

    if len(insns) > BPF_MAXINSNS:
        raise ValueError(f"program too long ({len(insns)} instructions)")
    return b"".join(
        _SOCK_FILTER.pack(i.code, offset(pc, i.jt), offset(pc, i.jf), i.k)
        for pc, i in enumerate(insns)
    )


def program(arch: Arch, denied: Iterable[str] = DENIED) -> list[Insn | str]:
    """The filter for `arch`: deny `denied` (those it has) and non-AF_UNIX sockets."""
    eperm = RET_ERRNO | errno.EPERM
    out: list[Insn | str] = [
        Insn(_LD_W_ABS, _OFF_ARCH),
        Insn(_JEQ_K, arch.audit, jf="kill"),
        Insn(_LD_W_ABS, _OFF_NR),
    ]
    if arch.x32_bit is not None:
        out.append(Insn(_JGE_K, arch.x32_bit, jt="eperm"))
    numbers = sorted({arch.syscalls[n] for n in denied if n in arch.syscalls})
    out += [Insn(_JEQ_K, nr, jt="eperm") for nr in numbers]
    out += [
        Insn(_JEQ_K, arch.syscalls["socket"], jt="sock"),
        Insn(_JEQ_K, arch.syscalls["socketpair"], jt="sock", jf="allow"),
        "sock",
        Insn(_LD_W_ABS, _OFF_ARG0),
        Insn(_JEQ_K, _AF_UNIX, jt="allow", jf="eperm"),
        "allow",
        Insn(_RET_K, RET_ALLOW),
        "eperm",
        Insn(_RET_K, eperm),
        "kill",
        Insn(_RET_K, RET_KILL_PROCESS),
    ]
    return out


def native_arch() -> Arch | None:
    """The running architecture, or None where we have no syscall table (or not 64-bit Linux)."""
    if sys.platform != "linux" or struct.calcsize("P") != 8:
        return None  # a 32-bit userland on a 64-bit kernel would make compat calls
    return _MACHINES.get(platform.machine().lower())


def seccomp_available() -> bool:
    """True when a filter can be built for the running architecture."""
    return native_arch() is not None and hasattr(os, "memfd_create")


def build_filter_fd() -> int:
    """Return a readable fd at offset 0 holding the BPF program (the caller closes it)."""
    arch = native_arch()
    if arch is None:
        raise RuntimeError(f"no seccomp syscall table for {platform.machine()!r}")
    data = assemble(program(arch))
    fd = os.memfd_create("cie-seccomp", os.MFD_CLOEXEC)
    try:
        if os.write(fd, data) != len(data):  # a memfd takes the small program at once
            raise OSError(errno.EIO, "short write to the seccomp memfd")
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
