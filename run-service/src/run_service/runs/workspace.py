"""Puts a thread's attached uploads into its /mnt/data, under their sanitised names."""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath

from run_service.engines import DATA_DIR, AttachedFile
from run_service.runs.files import FileInfo, FileStore, FileUnavailable
from run_service.sandbox import SessionPool
from run_service.sandbox.limits import MiB


class Workspace:
    """Remembers which file landed under which name, per thread, for this process's life."""

    def __init__(self, pool: SessionPool, files: FileStore) -> None:
        self._pool = pool
        self._files = files
        self._placed: dict[str, dict[str, str]] = {}  # thread -> file id -> name in /mnt/data

    async def attach(self, thread_id: str, file_ids: list[str]) -> tuple[AttachedFile, ...]:
        """Make every file present (downloading what is missing); FileUnavailable if unknown."""
        placed = self._placed.setdefault(thread_id, {})
        attached: list[AttachedFile] = []
        for file_id in file_ids:
            info = await self._files.describe(file_id)
            name = placed.get(file_id) or _free_name(info, set(placed.values()))
            if file_id not in placed or not self._pool.has_file(thread_id, name):
                await self._download(thread_id, info, name)
                placed[file_id] = name
            attached.append(
                AttachedFile(name=name, path=f"{DATA_DIR}/{name}", profile=info.profile)
            )
        return tuple(attached)

    async def _download(self, thread_id: str, info: FileInfo, name: str) -> None:
        """Write the file into /mnt/data; one that does not fit in the thread's quota there is
        refused (nothing of it stays)."""
        room = await asyncio.to_thread(self._pool.room, thread_id)
        written = 0
        with self._pool.incoming_file(thread_id, name) as out:
            async for chunk in self._files.download(info.file_id):
                written += len(chunk)
                if room is not None and written > room:
                    quota = self._pool.limits.data_quota_bytes // MiB
                    raise FileUnavailable(
                        f"{name} does not fit in the thread's /mnt/data, which may hold "
                        f"{quota} MiB of files ({room // MiB} MiB left); delete files there "
                        "to make room"
                    )
                out.write(chunk)


def _free_name(info: FileInfo, taken: set[str]) -> str:
    """The upload's name, or `stem-<id tail>.ext` when another file of the thread has it."""
    name = PurePosixPath(info.filename).name or info.file_id
    if name not in taken:
        return name
    path = PurePosixPath(name)
    return f"{path.stem}-{info.file_id[-8:]}{path.suffix}"
