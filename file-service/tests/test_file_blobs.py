"""The blob store contract against both adapters, plus what only the local one promises."""

import os
import time
from pathlib import Path

import pytest

from file_service.blobs import BlobStore
from file_service.blobs_local import LocalBlobStore, blob_path
from file_service.blobs_memory import InMemoryBlobStore
from file_service.testing.blob_contract import BlobStoreContract


class TestInMemoryBlobStore(BlobStoreContract):
    @pytest.fixture
    def blobs(self) -> BlobStore:
        return InMemoryBlobStore()


class TestLocalBlobStore(BlobStoreContract):
    @pytest.fixture
    def blobs(self, tmp_path: Path) -> BlobStore:
        return LocalBlobStore(tmp_path)


async def test_local_blobs_live_under_their_hash_and_leave_no_temp_files(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    writer = await blobs.begin()
    await writer.write(b"content")
    assert len(list(blobs.temp_dir.iterdir())) == 1
    info = await writer.commit()
    assert blob_path(tmp_path, info.key).read_bytes() == b"content"
    assert blob_path(tmp_path, info.key).parent.name == info.key[:2]
    assert list(blobs.temp_dir.iterdir()) == []


async def test_an_aborted_local_write_removes_its_temp_file(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    writer = await blobs.begin()
    await writer.write(b"x" * (2 << 20))
    await writer.abort()
    assert list(blobs.temp_dir.iterdir()) == []
    assert list((tmp_path / "objects").rglob("*")) == []


def test_sweeping_removes_only_stale_temp_files(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    stale, fresh = blobs.temp_dir / "old.part", blobs.temp_dir / "new.part"
    stale.write_bytes(b"left by a crash")
    fresh.write_bytes(b"being written")
    old = time.time() - 3 * 24 * 3600
    os.utime(stale, (old, old))
    assert blobs.sweep_temp() == 1
    assert not stale.exists()
    assert fresh.exists()
