"""The full default preload: every promised library imports inside the sandbox."""

from __future__ import annotations

import pytest
from sandbox_support import pool_root, require_bwrap

from run_service.sandbox import BubblewrapSandbox, SandboxLimits, SessionPool

LIBRARIES = ["numpy", "pandas", "matplotlib", "scipy", "sympy", "seaborn", "openpyxl", "xlrd"]


async def test_promised_libraries_import_and_plots_return_png(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    require_bwrap()
    pool = SessionPool(
        BubblewrapSandbox(SandboxLimits(warm_pool_size=1)), pool_root(tmp_path_factory)
    )
    await pool.start()
    try:
        imports = "\n".join(f"import {name}" for name in [*LIBRARIES, "pypdf"])
        r = await pool.execute("t-libs", imports + "\nimport matplotlib; matplotlib.get_backend()")
        assert r.error is None, r.error
        assert r.result is not None
        assert r.result.lower() == "'agg'"
        code = (
            "import numpy as np, matplotlib.pyplot as plt\n"
            "x = np.linspace(0, 10, 1000)\n"
            "plt.plot(x, np.sin(x)); plt.show()"
        )
        r = await pool.execute("t-libs", code)
        assert r.error is None, r.error
        assert len(r.files) == 1
        assert pool.read_file("t-libs", r.files[0]).startswith(b"\x89PNG")
    finally:
        await pool.close()
