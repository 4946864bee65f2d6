"""The README's quickstart, run as a newcomer would: its shell block, verbatim, against the
embedded system as `make run` starts it (only the port differs)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.processes import Service, free_port, running, service_env, wait_until_http_ready

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- quickstart: tests/e2e/test_e2e_readme.py runs this block as it stands -->"


def quickstart_block() -> str:
    """The shell block right after the marker in README.md."""
    readme = (ROOT / "README.md").read_text()
    after = readme.split(MARKER, 1)[1]
    found = re.match(r"\s*```sh\n(.*?)\n```", after, re.DOTALL)
    assert found, "the quickstart block must follow its marker"
    return found.group(1)


def json_documents(text: str) -> list[dict[str, object]]:
    """Every JSON object in `text`, which holds them one after another."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) != -1:
        document, at = decoder.raw_decode(text, at)
        found.append(document)
    return found


def test_the_readme_quickstart_runs_as_written(tmp_path: Path) -> None:
    assert shutil.which("curl"), "the quickstart uses curl"
    port = free_port()
    script = quickstart_block().replace("api=localhost:8000", f"api=127.0.0.1:{port}", 1)
    assert script != quickstart_block(), "the block names the API address once, as api=…"
    work = tmp_path / "work"  # the block runs from the repository root: give it the files
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    env = service_env({"CIE_DATA_DIR": str(tmp_path / "data"), "PORT": str(port)})
    with running({"embedded": Service("embedded", "cie_embedded", env, tmp_path)}) as services:
        wait_until_http_ready(f"http://127.0.0.1:{port}/", list(services.values()))
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    answers = json_documents(done.stdout)  # curl prints each answer without a newline
    messages = [str(a.get("message", "")) for a in answers]
    chat = next(m for m in messages if "np.arange(10).sum()" in m)  # the code it ran is shown
    assert "45" in chat
    analysis = next(m for m in messages if "sales.csv" in m)
    assert "could not be read" not in analysis
    assert "64 rows" in analysis
    assert any("sha256" in a for a in answers)
    assert (work / "sales-copy.csv").read_bytes() == (ROOT / "examples/sales.csv").read_bytes()
