"""File routes: upload, download (streamed, with ranges), metadata (ours)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from gateway.api.deps import FileIdDep
from gateway.api.schemas import ErrorResponse, FileMeta, UploadResponse
from gateway.errors import Unprocessable
from gateway.files import CHUNK, FileServiceClient, response_headers

router = APIRouter(prefix="/api", tags=["files"])

MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Malformed id or upload, content that does not match its extension, empty file",
        404: "Unknown file",
        413: "File over the size limit",
        415: "Type not accepted",
        422: "No `file` field",
    }.items()
}


def get_files(request: Request) -> FileServiceClient:
    files: FileServiceClient = request.app.state.files
    return files


FilesDep = Annotated[FileServiceClient, Depends(get_files)]


@router.post(
    "/upload",
    response_model=UploadResponse,
    responses=ERRORS,
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
        200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes"},
        206: {"description": "The requested byte range"},
        304: {"description": "Unchanged since the ETag given in If-None-Match"},
        **{status: ERRORS[status] for status in (400, 404)},
        416: {"model": ErrorResponse, "description": "Range outside the file"},
    },
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
    responses={status: ERRORS[status] for status in (400, 404)},
    summary="A file's name, size, sha256, type, origin and profile (extension)",
)
async def meta(file_id: FileIdDep, files: FilesDep) -> FileMeta:
    return FileMeta.model_validate(await files.meta(file_id))
