"""Generated files: kept by file-service, then shown as the spec's `files` and `annotations`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from contracts.runs import FilePathAnnotation, MessageFile
from run_service.runs.files import FileStore, FileUnavailable
from run_service.sandbox import SessionPool

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
MAX_KEPT_FILES = 50


@dataclass
class KeptFiles:
    """What became of the files a run wrote."""

    files: list[MessageFile] = field(default_factory=list)
    annotations: list[FilePathAnnotation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def keep_files(
    pool: SessionPool, files: FileStore, *, thread_id: str, run_id: str, names: list[str]
) -> KeptFiles:
    """Register each written file with file-service; images also become `image_file`s."""
    kept = KeptFiles()
    if len(names) > MAX_KEPT_FILES:
        kept.problems.append(
            f"The code wrote {len(names)} files; only the first {MAX_KEPT_FILES} were kept."
        )
    for name in names[:MAX_KEPT_FILES]:
        try:
            data = await asyncio.to_thread(pool.read_file, thread_id, name)
            file_id = await files.register_produced(
                filename=PurePosixPath(name).name, data=data, thread_id=thread_id, run_id=run_id
            )
        except (OSError, ValueError) as refused:  # vanished, a symlink, too large
            kept.problems.append(f"`{name}` was not kept: {refused}")
            continue
        except FileUnavailable as error:
            logger.warning("file-service did not keep %s of %s: %s", name, run_id, error)
            kept.problems.append(f"`{name}` could not be stored: {error}")
            continue
        kept.annotations.append(FilePathAnnotation(file_id=file_id, text=name))
        if PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES:
            kept.files.append(MessageFile(file_id=file_id))
    return kept
