"""Swagger UI (/docs) and ReDoc (/redoc) served offline, and the OpenAPI document as sent.

FastAPI's own pages load their scripts, styles, favicon and fonts from CDNs, so they render
blank on a machine without internet. Here the pages load the copies fastapi-offline ships,
served by this app under /docs/static/ (same origin, nothing from another host).
"""

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

from gateway.errors import NotFound

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
STATIC_URL = "/docs/static"

STATIC_DIR = Path(str(files("fastapi_offline").joinpath("static")))
STATIC_FILES: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
"""The only files served, with their content types (nothing else of the directory is)."""

STATIC_CACHE = "public, max-age=86400"


def install_docs(app: FastAPI) -> None:
    """Add /docs, /docs/oauth2-redirect, /redoc and their assets (none in the OpenAPI document).

    The app must be created with `docs_url=None, redoc_url=None`.
    """
    title = app.title

    def static(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{STATIC_URL}/{name}"

    def openapi_url(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{app.openapi_url}"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{title} - Swagger UI",
            oauth2_redirect_url=f"{request.scope.get('root_path', '')}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=static(request, "swagger-ui-bundle.js"),
            swagger_css_url=static(request, "swagger-ui.css"),
            swagger_favicon_url=static(request, "favicon.png"),
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{title} - ReDoc",
            redoc_js_url=static(request, "redoc.standalone.js"),
            redoc_favicon_url=static(request, "favicon.png"),
            with_google_fonts=False,
        )

    @app.get(STATIC_URL + "/{name}", include_in_schema=False)
    async def docs_static(name: str) -> FileResponse:
        media_type = STATIC_FILES.get(name)
        if media_type is None:
            raise NotFound(f"No documentation asset {name!r}")
        return FileResponse(
            STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": STATIC_CACHE}
        )


DEFAULT_VALIDATION_ERROR = "#/components/schemas/HTTPValidationError"


def truthful_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document without the 422 body it adds by default, which this API never sends.

    Validation errors answer `{"detail": "<string>"}` (ErrorResponse), and every route that can
    answer 422 says so in its own `responses`. FastAPI adds its HTTPValidationError answer to
    the others that take parameters: where those are only string path parameters (ids, checked
    by the route and refused with 400, never 422) it is dropped; anywhere else it becomes
    ErrorResponse.
    """
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            default = responses.get("422")
            if default is None or _schema_ref(default) != DEFAULT_VALIDATION_ERROR:
                continue
            if _only_string_path_parameters(operation):
                del responses["422"]
            else:
                responses["422"] = {
                    "description": "Wrong types or fields; `detail` says which",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ErrorResponse"}
                        }
                    },
                }
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def _schema_ref(response: dict[str, Any]) -> str | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref")
    return ref if isinstance(ref, str) else None


def _only_string_path_parameters(operation: dict[str, Any]) -> bool:
    if "requestBody" in operation:
        return False
    return all(
        parameter.get("in") == "path" and parameter.get("schema", {}).get("type") == "string"
        for parameter in operation.get("parameters", [])
    )
