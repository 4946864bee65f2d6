"""In-sandbox worker: a persistent Python namespace driven by JSON lines on stdin/stdout.

Runs inside the sandbox with only the standard library guaranteed; never imports run_service.
Requests: {"op": "exec", "code": str} | {"op": "ping"}; a bare line "interrupt" raises
KeyboardInterrupt in the running cell. Each request gets exactly one JSON reply line.
"""

from __future__ import annotations

import ast
import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from typing import Any

STREAM_CAP = int(os.environ.get("CIE_STREAM_CAP", "65536"))
REPR_CAP = 16_384
MARKER = "\n[... output truncated by the sandbox ...]\n"


class CappedStream(io.TextIOBase):
    """A text sink that keeps the first STREAM_CAP characters and counts the rest."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        room = STREAM_CAP - self.size
        if room > 0:
            self.parts.append(s[:room])
            self.size += min(len(s), room)
        if len(s) > room:
            self.truncated = True
        return len(s)

    def value(self) -> str:
        text = "".join(self.parts)
        return text + MARKER if self.truncated else text


def _run(code: str, ns: dict[str, Any]) -> Any:
    """Execute a cell; return the value of a trailing expression, like a notebook."""
    tree = ast.parse(code, "<cell>", "exec")
    last: ast.expr | None = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body.pop().value  # type: ignore[attr-defined]
    exec(compile(tree, "<cell>", "exec"), ns)
    if last is None:
        return None
    return eval(compile(ast.Expression(last), "<cell>", "eval"), ns)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".pdf", ".gif", ".webp")


def _wrote_images_since(started_at: float) -> bool:
    """Whether the cell saved an image into the cwd itself (then open figures are its drafts)."""
    try:
        with os.scandir(".") as entries:
            return any(
                e.name.lower().endswith(IMAGE_SUFFIXES)
                and e.is_file(follow_symlinks=False)
                and e.stat(follow_symlinks=False).st_mtime >= started_at
                for e in entries
            )
    except OSError:
        return False


def _save_figures(counter: int, started_at: float) -> list[str]:
    """Save every open matplotlib figure as PNG in the cwd and close it (plt.show is a no-op).

    A cell that saved images itself (plt.savefig) gets no extra copies of its figures.
    """
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    if _wrote_images_since(started_at):
        plt.close("all")
        return []
    saved = []
    for i, num in enumerate(plt.get_fignums()):
        name = f"figure_{counter}_{i + 1}.png"
        try:
            plt.figure(num).savefig(name, format="png")
            saved.append(name)
        except Exception as exc:  # a broken figure must not break the session
            sys.stderr.write(f"could not save figure {num}: {exc}\n")
    plt.close("all")
    return saved


class FdCapture:
    """Points fds 1 and 2 at temporary files for one cell: what subprocesses and C code write.

    The protocol has its own descriptor, so nothing written here can reach the host's stream.
    """

    def __init__(self) -> None:
        # Closed by drain(), after the cell: they outlive this call on purpose.
        self.files = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]  # noqa: SIM115
        for fd, target in zip((1, 2), self.files, strict=True):
            os.dup2(target.fileno(), fd)

    def stop(self) -> None:
        """Point fds 1 and 2 back at /dev/null."""
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (1, 2):
            os.dup2(null, fd)
        os.close(null)

    def drain(self, out: CappedStream, err: CappedStream) -> None:
        """Append what was written to fds 1 and 2 (capped) and close the files."""
        for sink, captured in zip((out, err), self.files, strict=True):
            captured.seek(0)
            data = captured.read(STREAM_CAP + 1)
            captured.close()
            if data:
                sink.write(data.decode("utf-8", errors="replace"))


def _execute(code: str, ns: dict[str, Any], counter: int, proto: Any) -> dict[str, Any]:
    out, err = CappedStream(), CappedStream()
    reply: dict[str, Any] = {"result": None, "error": None}
    start = time.perf_counter()
    started_at = time.time() - 0.01  # file mtimes are coarser than perf_counter
    sys.stdout, sys.stderr = out, err
    capture = FdCapture()
    try:
        value = _run(code, ns)
        if value is not None:
            text = repr(value)
            reply["result"] = text[:REPR_CAP] + ("..." if len(text) > REPR_CAP else "")
    except BaseException as exc:  # user code may raise anything, SystemExit included
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        reply["error"] = {"type": type(exc).__name__, "message": str(exc), "traceback": "".join(tb)}
    finally:
        try:
            reply["figures"] = _save_figures(counter, started_at)
        except BaseException:
            reply["figures"] = []
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        capture.stop()
        capture.drain(out, err)
    reply.update(
        stdout=out.value(),
        stderr=err.value(),
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
        duration_ms=(time.perf_counter() - start) * 1000,
    )
    return reply


def _preload(names: list[str]) -> None:
    for name in names:
        try:
            __import__(name)
        except Exception as exc:
            sys.__stderr__.write(f"preload {name} failed: {exc}\n")  # type: ignore[union-attr]


def main() -> None:
    """Serve requests until stdin closes."""
    # The protocol owns a private copy of fd 1; fds 1 and 2 go to /dev/null so that C-level
    # writes (or a subprocess) cannot corrupt the JSON stream.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    requests = os.fdopen(os.dup(0), "r")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    # Trap 4: an inherited SIG_IGN would make every interrupt silently time out.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    warnings.filterwarnings("ignore", message=".*non-interactive.*")
    os.environ.setdefault("MPLBACKEND", "Agg")
    _preload([n for n in os.environ.get("CIE_PRELOAD", "").split(",") if n])

    queue: list[dict[str, Any]] = []
    ready = threading.Condition()

    def reader() -> None:
        # A separate reader lets "interrupt" arrive while a cell is running.
        for line in requests:
            if line.strip() == "interrupt":
                os.kill(os.getpid(), signal.SIGINT)
                continue
            with ready:
                queue.append(json.loads(line))
                ready.notify()
        with ready:
            queue.append({"op": "exit"})
            ready.notify()

    threading.Thread(target=reader, daemon=True).start()
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    proto.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    counter = 0
    while True:
        try:
            with ready:
                while not queue:
                    ready.wait()
                req = queue.pop(0)
            if req.get("op") == "exit":
                return
            if req.get("op") == "ping":
                reply: dict[str, Any] = {"pong": True}
            else:
                counter += 1
                reply = _execute(str(req.get("code", "")), ns, counter, proto)
            proto.write(json.dumps(reply) + "\n")
        except KeyboardInterrupt:
            # An interrupt that lands between cells is harmless; answer so the host is not stuck.
            proto.write(json.dumps({"interrupted_idle": True}) + "\n")


if __name__ == "__main__":
    main()
