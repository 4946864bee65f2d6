"""What the worker reports for a cell: its result, hidden plot objects and clean tracebacks.

Each test runs under both adapters: the worker's own file lives at a sandbox path under
bubblewrap and at a host path under the rlimit fallback, and neither may show.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from sandbox_support import TEST_LIMITS, pool_root, require_bwrap

from run_service.sandbox import BubblewrapSandbox, ExecResult, RlimitSandbox, SessionPool

LIMITS = dataclasses.replace(
    TEST_LIMITS,
    exec_timeout_s=20.0,
    warm_pool_size=1,
    preload=("numpy", "pandas", "matplotlib.pyplot"),
)
WORKER_TRACES = ("worker.py", "/opt/cie", "run_service", "_execute", "_run")


@pytest.fixture(scope="module", params=["bubblewrap", "rlimit"])
async def pool(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SessionPool]:
    """A pool of the adapter named by the parameter (this module's own, not conftest's)."""
    if request.param == "bubblewrap":
        require_bwrap()
        sandbox: BubblewrapSandbox | RlimitSandbox = BubblewrapSandbox(LIMITS)
    else:
        sandbox = RlimitSandbox(LIMITS)
    p = SessionPool(sandbox, pool_root(tmp_path_factory))
    await p.start()
    yield p
    await p.close()


def thread() -> str:
    """The one thread of the module's pool: a new session per test would cost seconds each."""
    return "t-output"


def traceback_of(r: ExecResult) -> str:
    assert r.error is not None, (r.result, r.stdout, r.stderr)
    return r.error["traceback"]


def assert_no_worker_frames(text: str) -> None:
    for trace in WORKER_TRACES:
        assert trace not in text, text


# --- results ---------------------------------------------------------------------------------


async def test_ordinary_results_are_unchanged(pool: SessionPool) -> None:
    t = thread()
    assert (await pool.execute(t, "1 + 1")).result == "2"
    frame = await pool.execute(t, "import pandas as pd\npd.DataFrame({'a': [1, 2]})")
    assert frame.result == "   a\n0  1\n1  2"
    assert (await pool.execute(t, "[]")).result == "[]"
    assert (await pool.execute(t, "None")).result is None
    assert (await pool.execute(t, "x = 1")).result is None


async def test_matplotlib_objects_are_not_printed_as_results(pool: SessionPool) -> None:
    t = thread()
    setup = "import matplotlib.pyplot as plt\nimport numpy as np\n"
    cells = [
        "plt.plot([1, 2, 3])\nplt.ylabel('Units')",  # Text
        "plt.plot([1, 2, 3])",  # [Line2D]
        "plt.hist(np.arange(10))",  # (array, array, BarContainer)
        "plt.subplots()",  # (Figure, Axes)
        "plt.figure()",  # Figure
        "plt.gca()",  # Axes
        "fig, axes = plt.subplots(2, 2)\naxes",  # an object array of Axes
        "plt.boxplot([1, 2, 3])",  # {'whiskers': [Line2D, ...], ...}
    ]
    for code in cells:
        r = await pool.execute(t, setup + code)
        assert r.error is None, (code, r.error)
        assert r.result is None, (code, r.result)
    plotted = await pool.execute(t, setup + "plt.plot([1, 2, 3])\nplt.ylabel('Units')")
    assert len(plotted.files) == 1, "the figure itself is still shown as an image"


async def test_back_to_back_plotting_cells_each_show_their_figure(pool: SessionPool) -> None:
    t = thread()
    await pool.execute(t, "import matplotlib.pyplot as plt")
    first = await pool.execute(t, "plt.plot([1, 2, 3])")
    second = await pool.execute(t, "plt.plot([3, 2, 1])")
    saved = await pool.execute(t, "plt.plot([1, 1]); plt.savefig('mine.png')")

    assert len(first.files) == 1
    assert len(second.files) == 1
    assert second.files != first.files
    assert saved.files == ["mine.png"], "a cell that saved its figure gets no extra copy"


async def test_a_trailing_semicolon_hides_the_result(pool: SessionPool) -> None:
    t = thread()
    assert (await pool.execute(t, "1 + 1;")).result is None
    assert (await pool.execute(t, "y = [1]\ny.append(2);  # quiet")).result is None
    assert (await pool.execute(t, "y")).result == "[1, 2]"
    assert (await pool.execute(t, "x = 1; x + 1")).result == "2"
    assert (await pool.execute(t, "'a;'")).result == "'a;'"


async def test_a_very_long_repr_is_cut_and_says_so(pool: SessionPool) -> None:
    r = await pool.execute(thread(), "'x' * 100_000")
    assert r.result is not None
    assert r.result.startswith("'xxxx")
    assert len(r.result) < 20_000
    assert "truncated" in r.result
    assert "100002" in r.result  # how long the whole repr was


# --- tracebacks ------------------------------------------------------------------------------


async def test_a_traceback_shows_the_cell_and_its_lines_but_no_worker_frames(
    pool: SessionPool,
) -> None:
    r = await pool.execute(thread(), "def f(d):\n    return d['missing']\n\nf({})")
    text = traceback_of(r)

    assert_no_worker_frames(text)
    assert text.startswith("Traceback (most recent call last):\n")
    assert 'File "<cell>", line 4, in <module>' in text
    assert "    f({})" in text
    assert 'File "<cell>", line 2, in f' in text
    assert "    return d['missing']" in text
    assert text.rstrip().endswith("KeyError: 'missing'")


async def test_an_error_in_the_last_expression_has_no_worker_frames(pool: SessionPool) -> None:
    text = traceback_of(await pool.execute(thread(), "x = 1\n1 / 0"))

    assert_no_worker_frames(text)
    assert 'File "<cell>", line 2, in <module>' in text
    assert "    1 / 0" in text


async def test_a_function_from_an_earlier_cell_shows_its_own_line(pool: SessionPool) -> None:
    t = thread()
    await pool.execute(t, "def g():\n    return undefined_name\n")
    text = traceback_of(await pool.execute(t, "value = 1\ng()"))

    assert_no_worker_frames(text)
    assert "    g()" in text
    assert "    return undefined_name" in text
    assert "NameError" in text


async def test_library_frames_called_by_the_user_are_kept(pool: SessionPool) -> None:
    text = traceback_of(await pool.execute(thread(), "import json\njson.loads('{')"))

    assert_no_worker_frames(text)
    assert "    json.loads('{')" in text
    assert "json/decoder.py" in text
    assert "JSONDecodeError" in text


async def test_a_syntax_error_points_at_the_users_line(pool: SessionPool) -> None:
    r = await pool.execute(thread(), "x = 1\ny = (\n")
    text = traceback_of(r)

    assert r.error is not None
    assert r.error["type"] == "SyntaxError"
    assert_no_worker_frames(text)
    assert "ast.py" not in text
    assert 'File "<cell>", line 2' in text
    assert "y = (" in text
    assert "<cell>" in r.error["message"]


async def test_a_compile_time_syntax_error_shows_the_users_line(pool: SessionPool) -> None:
    r = await pool.execute(thread(), "x = 1\nreturn x\n")
    text = traceback_of(r)

    assert_no_worker_frames(text)
    assert 'File "<cell>", line 2' in text
    assert "return x" in text
    assert "'return' outside function" in text


async def test_system_exit_and_an_interrupt_have_no_worker_frames(pool: SessionPool) -> None:
    t = thread()
    exit_text = traceback_of(await pool.execute(t, "raise SystemExit(3)"))
    assert_no_worker_frames(exit_text)
    assert "SystemExit: 3" in exit_text

    r = await pool.execute(t, "import time\nwhile True:\n    time.sleep(0.01)", timeout=0.5)
    assert r.timed_out
    interrupted = traceback_of(r)
    assert_no_worker_frames(interrupted)
    assert "KeyboardInterrupt" in interrupted


async def test_an_exception_that_cannot_be_printed_keeps_the_session(pool: SessionPool) -> None:
    t = thread()
    await pool.execute(t, "kept = 5")
    code = (
        "class Bad(Exception):\n"
        "    def __str__(self):\n"
        "        raise RuntimeError('no')\n"
        "raise Bad()"
    )
    r = await pool.execute(t, code)

    assert r.error is not None
    assert r.error["type"] == "Bad"
    assert not r.state_lost
    assert (await pool.execute(t, "kept")).result == "5"


async def test_a_huge_exception_message_is_capped(pool: SessionPool) -> None:
    r = await pool.execute(thread(), "raise ValueError('v' * 10_000_000)")

    assert r.error is not None
    assert not r.state_lost
    assert len(r.error["message"]) < 100_000
    assert len(r.error["traceback"]) < 200_000
    assert "truncated" in r.error["message"]


async def test_a_warning_from_the_cell_names_the_cell_and_its_line(pool: SessionPool) -> None:
    r = await pool.execute(thread(), "import warnings\nwarnings.warn('careful')")

    assert "<cell>:2: UserWarning: careful" in r.stderr
    assert "warnings.warn('careful')" in r.stderr
