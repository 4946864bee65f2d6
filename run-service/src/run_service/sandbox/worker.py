"""In-sandbox worker: a persistent Python namespace driven by JSON lines on stdin/stdout.

Runs inside the sandbox with only the standard library guaranteed; never imports run_service.
Requests: {"op": "exec", "code": str, "id": str} | {"op": "ping", "id": str}; a bare line
"interrupt" raises KeyboardInterrupt in the running cell. Each request gets exactly one JSON
reply line, carrying the request's id.

A cell behaves like a notebook's: the value of a trailing expression is its result (not for
plot objects, whose figure is saved as an image, nor after a trailing `;`), and a traceback
shows the cell's own lines, as "<cell>", and the libraries it called, never this worker.
"""

from __future__ import annotations

import ast
import contextlib
import io
import itertools
import json
import linecache
import os
import re
import signal
import sys
import tempfile
import threading
import time
import tokenize
import traceback
import warnings
from types import CodeType, ModuleType
from typing import Any

STREAM_CAP = int(os.environ["CIE_STREAM_CAP"])  # SandboxLimits.stream_cap_bytes, via launch.py
REAP = os.environ.get("CIE_REAP") == "1"
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


CELL = "<cell>"  # what tracebacks and warnings call the user's code
# Each cell is compiled under a name of its own, so that a function defined in an earlier cell
# still shows its own source lines; those names are shown as CELL.
_CELL_NAME = re.compile(r"<cell-\d+>")
_SOURCES: dict[str, list[str]] = {}  # cell name -> its lines, as linecache holds them
# The classes whose objects a cell's value is not printed for: plot objects (Artists, Axes,
# Figures, containers of them) are what plotting calls return; the figure is shown as an image.
PLOT_MODULES = ("matplotlib.", "mpl_toolkits.", "seaborn.axisgrid")
_SCANNED_ITEMS = 64  # of a list, tuple, dict or object array, when looking for plot objects


def _cell_name(counter: int) -> str:
    return f"<cell-{counter}>"


def _shown(text: str) -> str:
    """Text with the cells' internal file names replaced by CELL."""
    return _CELL_NAME.sub(CELL, text)


def _register(name: str, code: str) -> None:
    """Put a cell's source in linecache (no mtime: never checked against a file)."""
    lines = code.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    _SOURCES[name] = lines
    linecache.cache[name] = (len(code), None, lines, name)


def _restore_sources() -> None:
    """Register the cells' sources again, should the user's code have cleared linecache."""
    for name, lines in _SOURCES.items():
        if name not in linecache.cache:
            linecache.cache[name] = (sum(map(len, lines)), None, lines, name)


def _ends_with_semicolon(code: str) -> bool:
    """Whether the cell's last token is `;` (comments aside): Jupyter's "show no result"."""
    last: tokenize.TokenInfo | None = None
    skipped = {tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.INDENT}
    skipped |= {tokenize.DEDENT, tokenize.ENDMARKER}
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type not in skipped:
                last = token
    except (tokenize.TokenError, SyntaxError):
        return False
    return last is not None and last.type == tokenize.OP and last.string == ";"


def _compile(code: str, name: str) -> tuple[CodeType, CodeType | None]:
    """The cell's statements and its trailing expression, if any, like a notebook.

    An error found before anything runs (SyntaxError, or ValueError for a NUL byte) is
    raised without a traceback: none of its frames (ast, this worker) are the user's.
    """
    try:
        tree = ast.parse(code, CELL, "exec")
        last: CodeType | None = None
        if tree.body and isinstance(tree.body[-1], ast.Expr) and not _ends_with_semicolon(code):
            expr = ast.Expression(tree.body.pop().value)  # type: ignore[attr-defined]
            last = compile(expr, name, "eval")
        body = compile(tree, name, "exec")
    except Exception as exc:
        if isinstance(exc, SyntaxError):
            exc.filename = CELL
            if exc.text is None and exc.lineno:
                exc.text = linecache.getline(name, exc.lineno) or None
        raise exc.with_traceback(None) from None
    return body, last


def _is_plot_object(value: Any, depth: int = 0) -> bool:
    """A matplotlib object (or a list, tuple, dict or array of them), by its class's module.

    Nothing is imported: a cell that never imported matplotlib cannot return its objects.
    """
    for cls in type(value).__mro__:
        module = getattr(cls, "__module__", None)
        if isinstance(module, str) and module.startswith(PLOT_MODULES):
            return True
    if depth >= 2:
        return False
    items: Any
    if type(value) in (list, tuple):
        items = value
    elif type(value) is dict:
        items = value.values()
    elif type(value).__name__ == "ndarray" and getattr(value, "dtype", None) == "O":
        items = value.flat
    else:
        return False
    return any(_is_plot_object(item, depth + 1) for item in itertools.islice(items, _SCANNED_ITEMS))


def _shows_result(value: Any) -> bool:
    """Whether a cell's value is printed as its result: not None, not a plot object."""
    if value is None:
        return False
    try:
        return not _is_plot_object(value)
    except Exception:  # an odd object must not turn a cell that ran into an error
        return True


def _capped(text: str, limit: int, what: str) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {what} truncated by the sandbox: {len(text)} characters ...]"


def _worker_file() -> str:
    return _execute.__code__.co_filename


def _drop_worker_frames(exc: BaseException) -> None:
    """Take this worker's frames out of the tracebacks of exc and the exceptions it chains."""
    mine = _worker_file()
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == mine:
            tb = tb.tb_next
        node = tb
        while node is not None and node.tb_next is not None:
            if node.tb_next.tb_frame.f_code.co_filename == mine:
                node.tb_next = node.tb_next.tb_next
            else:
                node = node.tb_next
        current.__traceback__ = tb
        pending += [current.__cause__, current.__context__]
        pending += getattr(current, "exceptions", ())  # an ExceptionGroup's members


def _error_info(exc: BaseException) -> dict[str, str]:
    """The error as the user should see it: their frames and the libraries they called."""
    try:
        message = str(exc)
    except BaseException:
        message = "<the exception's str() failed>"
    try:
        _drop_worker_frames(exc)
        _restore_sources()
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except BaseException:
        text = f"{type(exc).__name__}: {message}\n"
    if len(text) > STREAM_CAP:  # the end names the error, the start the user's frame
        half = STREAM_CAP // 2
        cut = len(text) - 2 * half
        text = f"{text[:half]}\n[... {cut} characters of the traceback omitted ...]\n{text[-half:]}"
    return {
        "type": type(exc).__name__,
        "message": _shown(_capped(message, REPR_CAP, "message")),
        "traceback": _shown(text),
    }


_original_formatwarning = warnings.formatwarning


def _format_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """Warnings about a cell's line name it CELL, with the line itself."""
    if line is None:
        line = linecache.getline(filename, lineno)
    return _original_formatwarning(message, category, _shown(filename), lineno, line)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".pdf", ".gif", ".webp")


Images = dict[str, tuple[int, int, int]]


def _images() -> Images:
    """The image files in the cwd, each with its inode, mtime and size."""
    found: Images = {}
    try:
        with os.scandir(".") as entries:
            for e in entries:
                if e.name.lower().endswith(IMAGE_SUFFIXES) and e.is_file(follow_symlinks=False):
                    st = e.stat(follow_symlinks=False)
                    found[e.name] = (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        pass
    return found


def _save_figures(counter: int, images_before: Images) -> list[str]:
    """Save every open matplotlib figure as PNG in the cwd and close it (plt.show is a no-op).

    A cell that saved images itself (plt.savefig) gets no extra copies of its figures. That is
    told by comparing the images before and after the cell: a clock comparison would take the
    figure saved by the cell just before for one this cell saved.
    """
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    after = _images()
    if any(images_before.get(name) != stamp for name, stamp in after.items()):
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
    images_before = _images()
    sys.stdout, sys.stderr = out, err
    capture = FdCapture()
    name = _cell_name(counter)
    try:
        _register(name, code)
        body, last = _compile(code, name)
        exec(body, ns)
        if last is not None:
            value = eval(last, ns)
            if _shows_result(value):
                reply["result"] = _capped(repr(value), REPR_CAP, "repr")
    except BaseException as exc:  # user code may raise anything, SystemExit included
        reply["error"] = _error_info(exc)
    finally:
        try:
            reply["figures"] = _save_figures(counter, images_before)
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


def _reap_what_the_cell_started() -> None:
    """Nothing a cell started outlives it: kill(-1) reaches every process this uid may signal
    but this one (and, in bubblewrap's pid namespace, its init): daemons, double forks, setsid
    children. Threads of this process stay, as in a notebook."""
    with contextlib.suppress(ProcessLookupError):  # nothing else was running
        os.kill(-1, signal.SIGKILL)
    while True:  # and no zombie of ours is left to count against the process limit
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


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
    warnings.formatwarning = _format_warning
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
    ns = _user_main()
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
                if REAP:
                    _reap_what_the_cell_started()
            reply["id"] = req.get("id")  # the host pairs each reply with its request by this
            proto.write(json.dumps(reply) + "\n")
        except KeyboardInterrupt:
            # An interrupt that lands between cells is harmless; answer so the host is not stuck.
            proto.write(json.dumps({"interrupted_idle": True}) + "\n")


def _user_main() -> dict[str, Any]:
    """The cells' namespace: a fresh module that is `__main__` (as in a notebook), so what a
    cell defines can be found by name, e.g. pickled to a multiprocessing pool."""
    module = ModuleType("__main__")
    module.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = module
    return module.__dict__


if __name__ == "__main__":
    main()
