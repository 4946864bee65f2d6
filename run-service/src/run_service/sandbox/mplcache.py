"""A matplotlib font cache built once on the host and copied into each sandbox's tmpfs.

Without it every fresh sandbox rebuilds the cache on its first `import matplotlib.pyplot`
(about a second on a 2-core machine, sandbox.md §4).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)
SANDBOX_DIR = "/tmp/.matplotlib"  # MPLCONFIGDIR inside the sandbox


@functools.cache
def font_cache() -> Path | None:
    """Build the cache in a private host directory; None if matplotlib is missing or fails."""
    out = Path(tempfile.mkdtemp(prefix="cie-mplcache-"))
    atexit.register(shutil.rmtree, out, True)  # one per process; gone with it
    env = {"MPLCONFIGDIR": str(out), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
    try:
        # Our own fixed code in our own interpreter, never user input.
        subprocess.run(
            [sys.executable, "-I", "-c", "import matplotlib.font_manager"],
            env=env,
            check=True,
            timeout=120,
            capture_output=True,
        )
    except (OSError, subprocess.SubprocessError):
        log.warning("could not prebuild the matplotlib font cache", exc_info=True)
        return None
    found = sorted(out.glob("fontlist-*.json"))
    if not found:
        return None
    os.chmod(out, 0o755)
    os.chmod(found[0], 0o644)
    return found[0]
