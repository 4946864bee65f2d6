"""File routes: upload, download (streamed, with ranges), metadata (ours)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from gateway.api.deps import FileIdDep
from gateway.api.schemas import (
    FILE_SERVICE_ERRORS,
    UNEXPECTED,
    FileMeta,
    UploadResponse,
    error_responses,
)
from gateway.errors import Unprocessable
from gateway.files import CHUNK, FileServiceClient, response_headers

router = APIRouter(prefix="/api", tags=["files"])

ACCEPTED_MEDIA_TYPES = (
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel",
    "application/json",
    "text/plain",
    "application/pdf",
)
"""file-service's accepted types (by the file name's extension: .csv .xlsx .xls .json .txt .pdf)."""
MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The file; the extension of its name picks its type",
                        }
                    },
                },
                "encoding": {
                    "file": {
                        "contentType": ", ".join(ACCEPTED_MEDIA_TYPES),
                        "headers": {
                            "Content-Disposition": {
                                "description": "Names the file (`filename`)",
                                "schema": {"type": "string"},
                                "example": 'form-data; name="file"; filename="sales.csv"',
                            }
                        },
                    }
                },
            }
        },
    }
}
DOWNLOAD_PARAMETERS: dict[str, Any] = {
    "parameters": [
        {
            "name": name,
            "in": "header",
            "required": False,
            "description": description,
            "schema": {"type": "string"},
        }
        for name, description in {
            "Range": "One byte range, `bytes=a-b`, `bytes=a-` or `bytes=-n` (206, or 416 "
            "outside the file); any other value is ignored",
            "If-None-Match": "ETags (or `*`): 304 when one matches the file's",
            "If-Range": "An ETag: `Range` applies only if it is the file's",
        }.items()
    ]
}
MALFORMED_ID = "Malformed file id"
UNKNOWN = "Unknown file"
UPLOAD_ERRORS = error_responses(
    {
        400: "Malformed multipart body, an empty file, or content that does not match its "
        "extension (a .json that does not parse, a .pdf without %PDF-, ...)",
        413: "File over the size limit (CIE_MAX_UPLOAD_BYTES); nothing is kept",
        415: "Type not accepted; `detail` lists the accepted extensions",
        422: "No `file` field, or not multipart/form-data",
        500: UNEXPECTED,
        **FILE_SERVICE_ERRORS,
    }
)
READ_ERRORS = error_responses(
    {400: MALFORMED_ID, 404: UNKNOWN, 500: UNEXPECTED, **FILE_SERVICE_ERRORS}
)
FILE_LINKS = {
    name: {"operationId": name, "parameters": {"file_id": "$response.body#/file_id"}}
    for name in ("download", "meta")
}
BYTES = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
DOWNLOAD_HEADERS: dict[str, Any] = {
    name: {"description": description, "schema": {"type": "string"}}
    for name, description in {
        "ETag": "The content's sha256, quoted",
        "Content-Disposition": "attachment, with the file's name",
        "Accept-Ranges": "bytes",
    }.items()
}


def get_files(request: Request) -> FileServiceClient:
    files: FileServiceClient = request.app.state.files
    return files


FilesDep = Annotated[FileServiceClient, Depends(get_files)]


@router.post(
    "/upload",
    response_model=UploadResponse,
    responses={200: {"links": FILE_LINKS}, **UPLOAD_ERRORS},
    openapi_extra=MULTIPART_BODY,
    summary="Upload a file (.csv, .xlsx, .xls, .json, .txt, .pdf) as multipart field `file`",
)
async def upload(request: Request, files: FilesDep) -> UploadResponse:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise Unprocessable(
            "Missing `file` field: send multipart/form-data with a field named `file`"
        )
    body = await files.upload(content_type, request.headers.get("content-length"), request.stream())
    return UploadResponse.model_validate(body)


@router.get(
    "/file/{file_id}",
    response_class=StreamingResponse,
    responses={
        200: {"content": BYTES, "description": "The file's bytes", "headers": DOWNLOAD_HEADERS},
        206: {
            "content": BYTES,
            "description": "The byte range asked for with `Range`",
            "headers": {
                **DOWNLOAD_HEADERS,
                "Content-Range": {
                    "description": "bytes start-end/size",
                    "schema": {"type": "string"},
                },
            },
        },
        304: {"description": "Unchanged since the ETag given in If-None-Match (no body)"},
        **error_responses(
            {
                400: MALFORMED_ID,
                404: UNKNOWN,
                416: "`Range` outside the file",
                500: UNEXPECTED,
                **FILE_SERVICE_ERRORS,
            }
        ),
    },
    openapi_extra=DOWNLOAD_PARAMETERS,
    summary="Download a file, streamed; supports Range and If-None-Match",
)
async def download(file_id: FileIdDep, request: Request, files: FilesDep) -> StreamingResponse:
    upstream = await files.open(file_id, request.headers)
    return StreamingResponse(
        upstream.aiter_raw(CHUNK),
        status_code=upstream.status_code,
        headers=response_headers(upstream),
        background=BackgroundTask(upstream.aclose),
    )


@router.get(
    "/file/{file_id}/meta",
    response_model=FileMeta,
    responses=READ_ERRORS,
    summary="A file's name, size, sha256, type, origin and profile (extension)",
)
async def meta(file_id: FileIdDep, files: FilesDep) -> FileMeta:
    return FileMeta.model_validate(await files.meta(file_id))
