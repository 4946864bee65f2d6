"""The bubblewrap sandbox end to end, including hostile code; one pool per module."""

from __future__ import annotations

import asyncio
import os
import time

from run_service.sandbox import SessionPool


async def test_state_persists_and_cwd_is_mnt_data(pool: SessionPool) -> None:
    await pool.execute("t-state", "import math\nx = 41\nopen('a.txt', 'w').write('hi')")
    r = await pool.execute("t-state", "import os; print(os.getcwd()); x + 1")
    assert r.result == "42"
    assert r.stdout == "/mnt/data\n"
    assert (pool.workdir("t-state") / "a.txt").read_text() == "hi"
    fast = await pool.execute("t-state", "print(1+1)")
    assert fast.stdout == "2\n"
    assert fast.duration_ms < 10


async def test_error_reports_type_message_and_traceback(pool: SessionPool) -> None:
    r = await pool.execute("t-state", "1/0")
    assert r.error is not None
    assert r.error["type"] == "ZeroDivisionError"
    assert "division by zero" in r.error["message"]
    assert "<cell>" in r.error["traceback"]


async def test_identity_caps_and_seccomp(pool: SessionPool) -> None:
    code = (
        "import os\n"
        "s = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
        "os.getuid(), s['CapEff'].strip(), s['Seccomp'].strip(), s['NoNewPrivs'].strip()"
    )
    r = await pool.execute("t-id", "open('mine.txt', 'w').write('x')\n" + code)
    assert r.error is None, r.error
    assert r.result == "(65534, '0000000000000000', '2', '1')"
    # Trap 2/3: the host sees a non-root owner, so the sandbox never acts as host root.
    assert os.stat(pool.workdir("t-id") / "mine.txt").st_uid != 0


async def test_no_secret_in_environ_or_any_proc_environ(pool: SessionPool, secret: str) -> None:
    code = (
        "import os, glob\n"
        "blobs = [str(dict(os.environ))]\n"
        "for p in glob.glob('/proc/*/environ'):\n"
        "    try: blobs.append(open(p, 'rb').read().decode('latin-1'))\n"
        "    except OSError as e: blobs.append(repr(e))\n"
        f"any({secret!r} in b for b in blobs), len(blobs)"
    )
    r = await pool.execute("t-env", code)
    assert r.result is not None
    assert r.result.startswith("(False,")
    assert secret not in r.stdout + r.stderr + str(r.result)


async def test_network_is_unreachable_immediately(pool: SessionPool) -> None:
    code = (
        "import socket, time\n"
        "out = []\n"
        "for host, port in [('127.0.0.1', 8000), ('192.0.2.1', 80)]:\n"
        "    t = time.monotonic()\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=5); out.append('connected')\n"
        "    except OSError as e: out.append(type(e).__name__)\n"
        "    assert time.monotonic() - t < 1\n"
        "try: socket.getaddrinfo('example.com', 443); out.append('resolved')\n"
        "except OSError as e: out.append(type(e).__name__)\n"
        "out"
    )
    r = await pool.execute("t-net", code)
    assert r.error is None, r.error
    assert "connected" not in (r.result or "")
    assert "resolved" not in (r.result or "")


async def test_system_paths_are_read_only(pool: SessionPool) -> None:
    code = (
        "import sys\n"
        "res = []\n"
        "paths = ['/usr/x', '/etc/x', '/x', '/opt/x', sys.prefix + '/x', '/proc/sys/kernel/x']\n"
        "for p in paths:\n"
        "    try: open(p, 'w').write('x'); res.append('wrote ' + p)\n"
        "    except OSError as e: res.append(type(e).__name__)\n"
        "res"
    )
    r = await pool.execute("t-ro", code)
    assert r.error is None, r.error
    assert "wrote" not in (r.result or "")


async def test_other_threads_files_are_invisible(pool: SessionPool) -> None:
    await pool.execute("t-victim", "open('secret.txt', 'w').write('victim-data')")
    victim = pool.workdir("t-victim") / "secret.txt"
    code = (
        "import os\n"
        "found = []\n"
        "for top in ['/mnt', '/tmp', '/work', '/root', '/opt']:\n"
        "    for d, _, fs in os.walk(top):\n"
        "        found += [os.path.join(d, f) for f in fs if f == 'secret.txt']\n"
        f"try: open({str(victim)!r}).read(); found.append('direct')\n"
        "except OSError: pass\n"
        "found"
    )
    r = await pool.execute("t-thief", code)
    assert r.result == "[]"


async def test_symlink_to_another_threads_file_is_not_returned(pool: SessionPool) -> None:
    await pool.execute("t-victim", "open('secret.txt', 'w').write('victim-data')")
    victim = pool.workdir("t-victim") / "secret.txt"
    r = await pool.execute("t-thief", f"import os; os.symlink({str(victim)!r}, 'chart.png')")
    assert "chart.png" not in r.files
    try:
        data = pool.read_file("t-thief", "chart.png")
    except OSError:
        data = b""
    assert b"victim-data" not in data


async def test_big_stdout_is_cut_with_a_marker(pool: SessionPool) -> None:
    r = await pool.execute("t-out", "print('y' * 50_000_000)")
    assert r.stdout_truncated
    assert "truncated" in r.stdout
    assert len(r.stdout) < pool.limits.stream_cap_bytes + 200


async def test_infinite_loop_is_interrupted_and_state_survives(pool: SessionPool) -> None:
    await pool.execute("t-loop", "kept = 7")
    t = time.monotonic()
    r = await pool.execute("t-loop", "while True: pass", timeout=1.0)
    assert r.timed_out
    assert r.error is not None
    assert r.error["type"] == "KeyboardInterrupt"
    assert time.monotonic() - t < 2.5
    assert (await pool.execute("t-loop", "kept")).result == "7"


async def test_uninterruptible_code_is_killed_and_next_run_is_told(pool: SessionPool) -> None:
    await pool.execute("t-kill", "kept = 1\nopen('f.txt', 'w').write('ok')")
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass"
    t = time.monotonic()
    r = await pool.execute("t-kill", code, timeout=1.0)
    assert r.timed_out
    assert r.state_lost
    assert time.monotonic() - t < 4
    nxt = await pool.execute("t-kill", "open('f.txt').read()")
    assert nxt.state_lost
    assert nxt.notice is not None
    assert "lost" in nxt.notice
    assert nxt.result == "'ok'"


async def test_code_that_kills_its_own_process(pool: SessionPool) -> None:
    r = await pool.execute("t-suicide", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert r.state_lost
    assert r.error is not None
    assert (await pool.execute("t-suicide", "1 + 1")).result == "2"


async def test_memory_bomb_raises_memory_error(pool: SessionPool) -> None:
    r = await pool.execute("t-mem", "bytearray(3 << 30)")
    assert r.error is not None
    assert r.error["type"] == "MemoryError"
    code = "chunks = []\nwhile True: chunks.append(bytearray(64 << 20))"
    r = await pool.execute("t-mem", code)
    assert r.error is not None
    assert r.error["type"] == "MemoryError"
    assert (await pool.execute("t-mem", "del chunks; 2 + 2")).result == "4"


async def test_process_bomb_is_capped(pool: SessionPool) -> None:
    code = (
        "import os, time\n"
        "pids, err = [], None\n"
        "try:\n"
        "    for _ in range(500):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "        pids.append(pid)\n"
        "except OSError as e: err = type(e).__name__\n"
        "for p in pids: os.kill(p, 9); os.waitpid(p, 0)\n"
        "len(pids), err"
    )
    r = await pool.execute("t-fork", code)
    assert r.error is None, r.error
    assert r.result is not None
    count = int(r.result.strip("()").split(",")[0])
    assert count < pool.limits.max_processes
    assert "BlockingIOError" in r.result


async def test_file_size_and_tmp_are_capped(pool: SessionPool) -> None:
    code = (
        "res = []\n"
        "for p in ['/mnt/data/big.bin', '/tmp/big.bin']:\n"
        "    try:\n"
        "        with open(p, 'wb') as f:\n"
        "            for _ in range(40): f.write(b'x' * (1 << 20))\n"
        "        res.append('ok')\n"
        "    except OSError as e: res.append(e.errno)\n"
        "res"
    )
    r = await pool.execute("t-fsize", code)
    assert r.result == "[27, 28]"  # EFBIG in the workdir, ENOSPC in the tmpfs


async def test_generated_files_are_capped_per_execution(pool: SessionPool) -> None:
    r = await pool.execute("t-many", "for i in range(60): open(f'f{i:02}.txt', 'w').write('x')")
    assert len(r.files) == pool.limits.max_files_per_exec
    assert r.files_truncated


async def test_open_figures_are_saved_as_png(pool: SessionPool) -> None:
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.plot(range(1000), range(1000))\n"
        "plt.show()\n"
        "plt.figure(); plt.plot([1, 2])"
    )
    r = await pool.execute("t-plot", code)
    assert r.error is None, r.error
    pngs = [f for f in r.files if f.endswith(".png")]
    assert len(pngs) == 2
    assert pool.read_file("t-plot", pngs[0]).startswith(b"\x89PNG")


def _pids_of_uid(uid: int) -> list[str]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                uids = next(line for line in f if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if int(uids.split()[1]) == uid:
            pids.append(pid)
    return pids


async def test_kill_leaves_no_orphans(pool: SessionPool) -> None:
    await pool.execute("t-orphan", "1")
    uid = pool._live["t-orphan"].uid
    assert uid is not None
    code = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "if os.fork() == 0:\n"  # a setsid'd double-forked daemon
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
        "while True: pass"
    )
    r = await pool.execute("t-orphan", code, timeout=1.0)
    assert r.state_lost
    for _ in range(20):  # the pid namespace is torn down asynchronously
        if not _pids_of_uid(uid):
            break
        await asyncio.sleep(0.1)
    assert _pids_of_uid(uid) == []


async def test_dev_shm_is_capped_like_tmp(pool: SessionPool) -> None:
    # --dev's /dev and /dev/shm would be one uncapped tmpfs (half the host's memory).
    code = (
        "import os\n"
        "st = os.statvfs('/dev/shm')\n"
        "res = [st.f_blocks * st.f_frsize, oct(os.stat('/dev/shm').st_mode & 0o7777)]\n"
        "try:\n"
        "    with open('/dev/shm/big.bin', 'wb') as f:\n"
        "        for _ in range(40): f.write(b'x' * (1 << 20))\n"
        "    res.append('ok')\n"
        "except OSError as e: res.append(e.errno)\n"
        "try:\n"
        "    open('/dev/new-file', 'w')\n"
        "except OSError as e: res.append(e.errno)\n"
        "res.append(open('/dev/null', 'w').write('x') + len(open('/dev/urandom', 'rb').read(3)))\n"
        "res"
    )
    r = await pool.execute("t-shm", code)
    # ENOSPC past the cap, EROFS for a new file in /dev, and the devices still work.
    assert r.result == repr([pool.limits.tmp_bytes, "0o1777", 28, 30, 4])


async def test_nothing_a_cell_started_outlives_it(pool: SessionPool) -> None:
    await pool.execute("t-daemon", "kept = 7")
    uid = pool._live["t-daemon"].uid
    assert uid is not None
    baseline = sorted(_pids_of_uid(uid))  # bwrap, its init and the worker
    code = (
        "import os, subprocess, time\n"
        "if os.fork() == 0:\n"  # a setsid'd double-forked daemon
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(120)\n"
        "    os._exit(0)\n"
        "subprocess.Popen(['sleep', '120'], start_new_session=True)\n"
        "time.sleep(0.3)\n"
        "print('started')"
    )
    r = await pool.execute("t-daemon", code)

    assert r.stdout == "started\n"
    for _ in range(20):  # killed at once; their reaping by the namespace's init may lag
        if sorted(_pids_of_uid(uid)) == baseline:
            break
        await asyncio.sleep(0.1)
    assert sorted(_pids_of_uid(uid)) == baseline
    after = await pool.execute("t-daemon", "print(kept)")
    assert after.stdout == "7\n"  # the session itself lives on
    assert not after.state_lost
