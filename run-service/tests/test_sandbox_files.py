"""Host-side file handling: change detection and symlink-safe reads (no sandbox needed)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from run_service.sandbox import SessionPool, files


def test_changed_lists_new_and_modified_regular_files_only(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("a")
    before = files.snapshot(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "new.csv").write_text("x")
    (tmp_path / "old.txt").write_text("abc")
    os.symlink("/etc/passwd", tmp_path / "link.png")
    assert files.changed(before, files.snapshot(tmp_path)) == ["old.txt", "sub/new.csv"]


def test_read_file_refuses_symlinks_anywhere_in_the_path(tmp_path: Path) -> None:
    secret = tmp_path / "other"
    secret.mkdir()
    (secret / "b.txt").write_text("secret")
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(secret / "b.txt", work / "chart.png")
    os.symlink(secret, work / "dir")
    with pytest.raises(OSError, match=r"symbolic links|Not a directory"):
        files.read_file(work, "chart.png", 1024)
    with pytest.raises(OSError, match=r"symbolic links|Not a directory"):
        files.read_file(work, "dir/b.txt", 1024)
    with pytest.raises(ValueError, match="bad path"):
        files.read_file(work, "../other/b.txt", 1024)


def test_read_file_caps_size(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * 100)
    assert files.read_file(tmp_path, "big.bin", 200) == b"x" * 100
    with pytest.raises(ValueError, match="larger"):
        files.read_file(tmp_path, "big.bin", 10)


async def test_output_of_subprocesses_and_c_level_writes_is_captured(pool: SessionPool) -> None:
    code = (
        "import os, subprocess, sys\n"
        "print('from python')\n"
        "subprocess.run(['echo', 'from a subprocess'])\n"
        "os.write(2, b'raw stderr\\n')\n"
    )
    result = await pool.execute(f"t-{uuid.uuid4().hex[:8]}", code)

    assert "from python\n" in result.stdout
    assert "from a subprocess\n" in result.stdout
    assert result.stderr == "raw stderr\n"
