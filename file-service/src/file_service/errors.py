"""Why file-service refuses a request; each error carries its HTTP status and a clear detail."""


class FileServiceError(Exception):
    """Base class; `status_code` is the HTTP status it maps to, `detail` the message shown."""

    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class FileNotFound(FileServiceError):
    """No file has this id."""

    status_code = 404

    def __init__(self, file_id: str) -> None:
        super().__init__(f"File {file_id} not found")


class InvalidFileId(FileServiceError):
    """The id does not have the shape `file-` followed by 1-64 letters or digits."""

    status_code = 400

    def __init__(self, file_id: str) -> None:
        super().__init__(
            f"Malformed file id {file_id!r}: expected 'file-' then 1-64 letters/digits"
        )


class UnsupportedFileType(FileServiceError):
    """The file's extension is not one the service accepts."""

    status_code = 415

    def __init__(self, filename: str, accepted: tuple[str, ...]) -> None:
        super().__init__(
            f"Unsupported file type for {filename!r}; accepted types: {', '.join(accepted)}"
        )


class ContentMismatch(FileServiceError):
    """The bytes are not what the extension claims (a .pdf without %PDF-, broken JSON, ...).

    400 rather than 415: the type is accepted, the payload is malformed for it.
    """

    status_code = 400


class FileTooLarge(FileServiceError):
    """The file is over the configured size limit."""

    status_code = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"File too large: the limit is {describe_size(limit)} ({limit} bytes)")


class StorageLimitReached(FileServiceError):
    """Keeping the file would take the total size of stored files past the storage limit."""

    status_code = 413

    def __init__(self, limit: int, used: int) -> None:
        super().__init__(
            f"Storage limit reached: at most {_mib(limit)} MiB of files may be stored and"
            f" {_mib(used)} MiB are in use; delete files to free room"
        )
        self.limit = limit
        self.used = used


class EmptyFile(FileServiceError):
    """An upload with no bytes."""

    status_code = 400

    def __init__(self) -> None:
        super().__init__("The uploaded file is empty")


class MissingFileField(FileServiceError):
    """The multipart body has no usable `file` field."""

    status_code = 422


class MalformedUpload(FileServiceError):
    """The request body is not well-formed multipart/form-data, or has several files."""

    status_code = 400


class BadRequest(FileServiceError):
    """A query or path parameter is malformed."""

    status_code = 400


class InsufficientStorage(FileServiceError):
    """The blob store's disk (or quota) is full."""

    status_code = 507

    def __init__(self) -> None:
        super().__init__("Not enough storage left to keep this file")


class RangeNotSatisfiable(FileServiceError):
    """The requested byte range lies outside the file."""

    status_code = 416

    def __init__(self, size: int) -> None:
        super().__init__(f"Requested range not satisfiable; the file has {size} bytes")
        self.size = size
        self.headers = {"Content-Range": f"bytes */{size}"}


def describe_size(size: int) -> str:
    """A size in the largest binary unit that divides it evenly enough to read (512 MiB)."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            amount = size / factor
            return f"{amount:g} {unit}" if amount == int(amount) else f"{amount:.1f} {unit}"
    return f"{size} bytes"


def _mib(size: int) -> str:
    """`size` in MiB: whole when it is, else to one decimal place (never rounded up to a whole
    limit: 10239.96 MiB in use shows as 10239.9, not 10240)."""
    if size % (1 << 20) == 0:
        return str(size >> 20)
    tenths = (size * 10) >> 20
    return f"{tenths // 10}.{tenths % 10}"
