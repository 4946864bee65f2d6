"""`python -m file_service.replay`: exit 0 on a match, 1 on differences, 0 after --apply."""

import subprocess
import sys
from pathlib import Path

from file_service.testing.harness import serving, sqlite_deps


def replay_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "file_service.replay", "--database-url", url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_replay_cli_compares_and_repairs(tmp_path: Path) -> None:
    async with sqlite_deps(tmp_path, 1 << 20) as deps:
        async with serving(deps) as client:
            await client.post("/files", files={"file": ("a.txt", b"hello")})
        url = f"sqlite+aiosqlite:///{tmp_path / 'files.db'}"
        matched = replay_cli(url)
        assert matched.returncode == 0, matched.stdout + matched.stderr
        assert "file list: matches the event store" in matched.stdout
        await deps.view.replace_all([])
    differs = replay_cli(url)
    assert differs.returncode == 1
    assert "1 differences" in differs.stdout
    applied = replay_cli(url, "--apply")
    assert applied.returncode == 0
    assert replay_cli(url).returncode == 0
