"""The use cases: upload, register a generated file, read metadata, download, list."""

import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from contracts.files import FileProduced, FileUploaded
from contracts.ids import FILE_ID_PATTERN, is_thread_id, new_file_id
from eventkit.envelopes import event_metadata, new_event
from eventkit.store import NO_STREAM, EventStore, StoredEvent
from file_service.blobs import BlobStore
from file_service.errors import BadRequest, FileNotFound, FileServiceError, InvalidFileId
from file_service.ingest import ingest
from file_service.kinds import MEDIA_TYPES, ContentInspector, guess_media_type, upload_kind
from file_service.multipart import FilePartReader
from file_service.names import sanitise_filename
from file_service.profiles import profile_file
from file_service.quota import StorageQuota
from file_service.view import FILE_CATEGORY, FileRow, FileView, row_for

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
CATCH_UP_PAGE = 1000


class BlobMissing(FileServiceError):
    """A file's event names a blob the store does not have (lost volume, bad restore)."""

    status_code = 500


class Files:
    """File-service's use cases over the event store, the blob store and the file list."""

    def __init__(
        self,
        store: EventStore,
        blobs: BlobStore,
        view: FileView,
        clock: Clock,
        *,
        max_upload_bytes: int,
        storage_limit_bytes: int,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._view = view
        self._clock = clock
        self.max_upload_bytes = max_upload_bytes
        self.quota = StorageQuota(view, storage_limit_bytes)

    async def upload(
        self,
        content_type: str,
        body: AsyncIterator[bytes],
        *,
        correlation_id: uuid.UUID | None = None,
    ) -> FileRow:
        """Store the `file` part of a multipart body, check and profile it, record it."""
        reader = FilePartReader(content_type, body)
        filename = sanitise_filename(await reader.filename())
        extension = upload_kind(filename)  # refuse an unknown type before reading any data
        inspector = ContentInspector(filename, extension)
        async with self.quota.reserving() as reservation:
            stored = await ingest(
                reader.data(),
                self._blobs,
                max_bytes=self.max_upload_bytes,
                reserve=reservation.take,
                inspector=inspector,
            )
            assert stored.facts is not None
            profile = await profile_file(extension, stored.facts, self._blobs, stored.blob.key)
            event = FileUploaded(
                file_id=new_file_id(),
                filename=filename,
                size=stored.blob.size,
                sha256=stored.blob.sha256,
                media_type=MEDIA_TYPES[extension],
                blob_key=stored.blob.key,
                created_at=self._clock(),
                profile=profile,
            )
            async with self.quota.recording(reservation):
                return await self._record(event.file_id, event, correlation_id)

    async def register_produced(
        self,
        *,
        filename: str,
        thread_id: str,
        run_id: str,
        body: AsyncIterator[bytes],
        correlation_id: uuid.UUID | None = None,
    ) -> FileRow:
        """Store a file a run generated (any type, may be empty) and record it for the thread."""
        if not is_thread_id(thread_id):
            raise BadRequest(f"Malformed thread id {thread_id!r}")
        if not RUN_ID_PATTERN.fullmatch(run_id):
            raise BadRequest(f"Malformed run id {run_id!r}: 1-128 letters, digits, '_' or '-'")
        name = sanitise_filename(filename)
        async with self.quota.reserving() as reservation:
            stored = await ingest(
                body,
                self._blobs,
                max_bytes=self.max_upload_bytes,
                reserve=reservation.take,
                allow_empty=True,
            )
            event = FileProduced(
                file_id=new_file_id(),
                filename=name,
                size=stored.blob.size,
                sha256=stored.blob.sha256,
                media_type=guess_media_type(name),
                blob_key=stored.blob.key,
                created_at=self._clock(),
                thread_id=thread_id,
                run_id=run_id,
            )
            async with self.quota.recording(reservation):
                return await self._record(event.file_id, event, correlation_id)

    async def meta(self, file_id: str) -> FileRow:
        """The file's row; falls back to its event stream if the view lags behind."""
        if not FILE_ID_PATTERN.fullmatch(file_id):
            raise InvalidFileId(file_id)
        row = await self._view.get(file_id)
        if row is not None:
            return row
        events = await self._store.read_stream(file_id, limit=1)
        if not events or (row := row_for(events[0])) is None:
            raise FileNotFound(file_id)
        await self._view.apply(events)
        return row

    async def open_bytes(self, row: FileRow, start: int, end: int) -> AsyncIterator[bytes]:
        """The file's bytes [start, end), after checking that its blob is there."""
        if await self._blobs.size(row.blob_key) is None:
            logger.error("blob %s of %s is missing", row.blob_key, row.file_id)
            raise BlobMissing(f"The content of file {row.file_id} is missing from storage")
        return self._blobs.read(row.blob_key, start, end)

    async def produced_for_thread(self, thread_id: str) -> list[FileRow]:
        """Files the thread's runs generated, oldest first."""
        if not is_thread_id(thread_id):
            raise BadRequest(f"Malformed thread id {thread_id!r}")
        return await self._view.produced_for_thread(thread_id)

    async def catch_up(self) -> int:
        """Apply every file event to the view (idempotent); returns how many were read.

        Run at start: repairs a view that missed an event because the process stopped
        between appending it and updating the view.
        """
        position = count = 0
        while batch := await self._store.read_all(
            after_position=position, limit=CATCH_UP_PAGE, category=FILE_CATEGORY
        ):
            await self._view.apply(batch)
            position, count = batch[-1].global_position, count + len(batch)
        return count

    async def _record(
        self, file_id: str, event: FileUploaded | FileProduced, correlation_id: uuid.UUID | None
    ) -> FileRow:
        now = self._clock()
        metadata = event_metadata(
            correlation_id=correlation_id or uuid.uuid4(), causation_id=None, occurred_at=now
        )
        new = new_event(uuid.uuid4(), event, metadata)
        result = await self._store.append(file_id, [new], expected_version=NO_STREAM)
        stored = StoredEvent(
            global_position=result.global_position,
            stream_id=file_id,
            stream_version=result.stream_version,
            event_id=new.event_id,
            event_type=new.event_type,
            schema_version=new.schema_version,
            data=new.data,
            metadata=new.metadata,
            recorded_at=now,
        )
        row = row_for(stored)
        assert row is not None
        try:
            await self._view.apply([stored])
        except Exception:
            # The event is recorded, which is what counts; `meta` reads the stream when the
            # view lacks a file, and `catch_up` at the next start repairs the list.
            logger.exception("file list not updated for %s", file_id)
        return row
