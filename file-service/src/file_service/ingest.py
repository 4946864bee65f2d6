"""Streaming a file into the blob store: coalesce, inspect, write, enforce the size limit.

Chunks arrive in whatever sizes the network gives (often 64 KiB); they are gathered into
buffers of COALESCE_BYTES so the blob writer makes one worker-thread call (hash + write) per
MiB, and the content inspector looks at each buffer once. At most a few buffers are alive at
a time, whatever the file's size. Each chunk is counted against the file's size limit and, by
`reserve`, against the storage limit (quota.py) before it is kept. Any failure, either limit
included, aborts the writer, which deletes the partial blob.
"""

import errno
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from file_service.blobs import BlobInfo, BlobStore
from file_service.errors import EmptyFile, FileTooLarge, InsufficientStorage
from file_service.kinds import ContentInspector, StreamFacts

COALESCE_BYTES = 1 << 20


@dataclass(frozen=True)
class Ingested:
    """A stored blob and, if it was inspected, what inspection learnt."""

    blob: BlobInfo
    facts: StreamFacts | None


async def ingest(
    chunks: AsyncIterator[bytes | memoryview],
    blobs: BlobStore,
    *,
    max_bytes: int,
    reserve: Callable[[int], None],
    inspector: ContentInspector | None = None,
    allow_empty: bool = False,
) -> Ingested:
    """Store `chunks` as one blob; raises FileTooLarge, EmptyFile or ContentMismatch, or what
    `reserve` (called with each chunk's size before it is kept) raises: StorageLimitReached."""
    writer = await blobs.begin()
    try:
        buffer = bytearray()
        async for piece in chunks:
            if writer.size + len(buffer) + len(piece) > max_bytes:
                raise FileTooLarge(max_bytes)
            reserve(len(piece))
            buffer += piece
            if len(buffer) >= COALESCE_BYTES:
                if inspector is not None:
                    inspector.feed(buffer)
                # The writer may still be using this buffer: start a fresh one.
                await writer.write(buffer)
                buffer = bytearray()
        if buffer:
            if inspector is not None:
                inspector.feed(buffer)
            await writer.write(buffer)
        if writer.size == 0 and not allow_empty:
            raise EmptyFile()
        facts = None if inspector is None else inspector.finish()
        blob = await writer.commit()
    except BaseException as error:
        await writer.abort()
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage() from error
        raise
    return Ingested(blob=blob, facts=facts)
