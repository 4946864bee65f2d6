"""The contract every BlobStore adapter must pass; subclass it and provide a `blobs` fixture.

class TestLocalBlobStore(BlobStoreContract):
    @pytest.fixture
    def blobs(self, tmp_path: Path) -> BlobStore:
        return LocalBlobStore(tmp_path)
"""

import asyncio
import hashlib
import os

import pytest

from file_service.blobs import BlobNotFound, BlobStore


async def _store(blobs: BlobStore, *chunks: bytes) -> str:
    writer = await blobs.begin()
    for chunk in chunks:
        await writer.write(chunk)
    return (await writer.commit()).key


async def _read(blobs: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in blobs.read(key, start, end)])


class BlobStoreContract:
    """Behaviour shared by every BlobStore."""

    @pytest.fixture
    def blobs(self) -> BlobStore:
        raise NotImplementedError

    async def test_a_committed_blob_reads_back_whole_under_its_sha256(
        self, blobs: BlobStore
    ) -> None:
        data = os.urandom(3 << 20) + b"tail"
        writer = await blobs.begin()
        for offset in range(0, len(data), 700_001):
            await writer.write(data[offset : offset + 700_001])
        assert writer.size == len(data)
        info = await writer.commit()
        digest = hashlib.sha256(data).hexdigest()
        assert (info.key, info.sha256, info.size) == (digest, digest, len(data))
        assert await blobs.size(info.key) == len(data)
        assert await _read(blobs, info.key) == data

    async def test_ranges_read_exactly_the_bytes_asked_for(self, blobs: BlobStore) -> None:
        data = bytes(range(256)) * 10_000
        key = await _store(blobs, data)
        assert await _read(blobs, key, 0, 1) == data[:1]
        assert await _read(blobs, key, 1000, 2_000_000) == data[1000:2_000_000]
        assert await _read(blobs, key, len(data) - 5) == data[-5:]
        assert await _read(blobs, key, 10, len(data) + 100) == data[10:]
        assert await _read(blobs, key, 7, 7) == b""

    async def test_reads_come_in_bounded_chunks(self, blobs: BlobStore) -> None:
        key = await _store(blobs, b"x" * (5 << 20))
        sizes = [len(chunk) async for chunk in blobs.read(key)]
        assert sum(sizes) == 5 << 20
        assert max(sizes) <= 4 << 20

    async def test_an_aborted_blob_leaves_nothing(self, blobs: BlobStore) -> None:
        writer = await blobs.begin()
        await writer.write(b"half an upload")
        await writer.abort()
        await writer.abort()
        assert await blobs.size(hashlib.sha256(b"half an upload").hexdigest()) is None

    async def test_the_same_bytes_twice_share_one_key(self, blobs: BlobStore) -> None:
        first, second = await asyncio.gather(_store(blobs, b"same"), _store(blobs, b"sa", b"me"))
        assert first == second
        assert await _read(blobs, first) == b"same"

    async def test_an_empty_blob_can_be_stored(self, blobs: BlobStore) -> None:
        key = await _store(blobs)
        assert await blobs.size(key) == 0
        assert await _read(blobs, key) == b""

    async def test_missing_or_malformed_keys_are_not_found(self, blobs: BlobStore) -> None:
        missing = "0" * 64
        assert await blobs.size(missing) is None
        assert await blobs.size("../../etc/passwd") is None
        with pytest.raises(BlobNotFound):
            await _read(blobs, missing)
        with pytest.raises(BlobNotFound):
            await _read(blobs, "../" + missing)
        with pytest.raises(BlobNotFound):
            blobs.open_reader(missing)

    async def test_a_reader_gives_random_access(self, blobs: BlobStore) -> None:
        key = await _store(blobs, b"0123456789")
        with blobs.open_reader(key) as reader:
            reader.seek(-3, os.SEEK_END)
            assert reader.read() == b"789"

    async def test_stopping_a_read_early_is_harmless(self, blobs: BlobStore) -> None:
        key = await _store(blobs, b"y" * (3 << 20))
        stream = blobs.read(key)
        assert await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        assert await _read(blobs, key, 0, 3) == b"yyy"
