"""File events, produced by file-service. A file's stream id is its `file-…` id."""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from contracts.base import Contract
from contracts.ids import FILE_ID_PATTERN

FileId = Field(pattern=FILE_ID_PATTERN.pattern, description="`file-…`")


class StoredBlob(Contract):
    """Where a file's bytes are and what they are."""

    filename: str = Field(description="Sanitised name shown to users; never used as a path")
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    media_type: str
    blob_key: str = Field(description="Key of the bytes in file-service's blob store")


class FileUploaded(StoredBlob):
    """A user uploaded a file."""

    type: Literal["file.uploaded"] = "file.uploaded"
    file_id: str = FileId
    created_at: datetime
    profile: dict[str, Any] | None = Field(
        default=None, description="Columns, types, rows and samples (tables); pages, text (PDF)"
    )


class FileProduced(StoredBlob):
    """Code run for a thread wrote a file, now kept by file-service."""

    type: Literal["file.produced"] = "file.produced"
    file_id: str = FileId
    created_at: datetime
    thread_id: str
    run_id: str


FileEvent = FileUploaded | FileProduced
