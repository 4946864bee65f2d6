"""/docs and /redoc load nothing from another host; CORS is off unless origins are given."""

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from cie_embedded.system import RunsConfig, in_memory_system
from gateway.app import create_app
from gateway.settings import GatewaySettings, parse_cors_origins
from tests.api.conftest import MAX_BODY

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
CDN_HOSTS = ("fonts.googleapis", "fonts.gstatic", "cdn.jsdelivr", "unpkg", "tiangolo.com")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_doc_pages_load_only_same_origin_assets(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    for host in CDN_HOSTS:
        assert host not in html, host
    assets = ASSET.findall(html)
    assert len(assets) >= 2, assets  # the script, and the favicon (and the styles)
    for url in assets:
        assert url.startswith("/"), url  # same origin: a path, no scheme or host
        assert not url.startswith("//"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    assert "/openapi.json" in html


async def test_doc_assets_have_their_types_and_may_be_cached(client: httpx.AsyncClient) -> None:
    for name, media_type in [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("redoc.standalone.js", "text/javascript"),
        ("favicon.png", "image/png"),
    ]:
        response = await client.get(f"/docs/static/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media_type), name
        assert "max-age" in response.headers["cache-control"]
        assert response.headers["etag"]
    for name in ("core.py", "..%2F__init__.py", "nothing.js"):
        missing = await client.get(f"/docs/static/{name}")
        assert missing.status_code == 404, name
        assert set(missing.json()) == {"detail"}


async def test_swagger_oauth2_redirect_still_works(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "oauth2" in response.text.lower()
    assert "/docs/oauth2-redirect" in (await client.get("/docs")).text


async def test_doc_pages_are_not_operations(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]


@asynccontextmanager
async def client_with_cors(
    runs: RunsConfig, origins: Sequence[str]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(lambda: in_memory_system(runs), max_body_bytes=MAX_BODY, cors_origins=origins)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def preflight(origin: str) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }


async def test_cors_preflight_from_an_allowed_origin(runs: RunsConfig) -> None:
    async with client_with_cors(runs, ["http://localhost:3000"]) as client:
        response = await client.options("/api/chat", headers=preflight("http://localhost:3000"))
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "content-type" in response.headers["access-control-allow-headers"].lower()
        answer = await client.get("/", headers={"origin": "http://localhost:3000"})
        assert answer.headers["access-control-allow-origin"] == "http://localhost:3000"
        exposed = answer.headers["access-control-expose-headers"].lower()
        assert "x-correlation-id" in exposed


async def test_cors_refuses_other_origins(runs: RunsConfig) -> None:
    async with client_with_cors(runs, ["http://localhost:3000"]) as client:
        response = await client.options("/api/chat", headers=preflight("http://evil.example"))
        assert "access-control-allow-origin" not in response.headers
        answer = await client.get("/", headers={"origin": "http://evil.example"})
        assert answer.status_code == 200
        assert "access-control-allow-origin" not in answer.headers


async def test_cors_any_origin_without_credentials(runs: RunsConfig) -> None:
    async with client_with_cors(runs, ["*"]) as client:
        response = await client.options("/api/chat", headers=preflight("http://any.example"))
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.options("/api/chat", headers=preflight("http://localhost:3000"))
    assert not [name for name in response.headers if name.startswith("access-control-")]
    answer = await client.get("/", headers={"origin": "http://localhost:3000"})
    assert not [name for name in answer.headers if name.startswith("access-control-")]


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", ()),
        ("  ", ()),
        ("*", ("*",)),
        (" * ", ("*",)),
        ("http://localhost:3000", ("http://localhost:3000",)),
        (
            " https://App.Example.com , http://127.0.0.1:8080,",
            ("https://app.example.com", "http://127.0.0.1:8080"),
        ),
        ("http://[::1]:5173", ("http://[::1]:5173",)),
    ],
)
def test_cors_origins_setting_is_parsed(
    monkeypatch: pytest.MonkeyPatch, value: str, origins: tuple[str, ...]
) -> None:
    monkeypatch.setenv("CIE_CORS_ORIGINS", value)
    assert GatewaySettings().cors_origin_list == origins
    assert parse_cors_origins(value) == origins


@pytest.mark.parametrize(
    "value",
    [
        "localhost:3000",
        "http://localhost:3000/",
        "http://localhost:3000/app",
        "http://",
        "http://localhost:99999",
        '["http://localhost:3000"]',
        "*, http://localhost:3000",
        "http://exa mple.com",
    ],
)
def test_malformed_cors_origins_stop_the_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CIE_CORS_ORIGINS", value)
    with pytest.raises(ValidationError, match=r"CORS origin|'\*' allows every origin"):
        GatewaySettings()
    with pytest.raises(ValueError, match="origin"):
        create_app(never_started, cors_origins=[value])


def never_started() -> Any:
    raise AssertionError("the app must not start")
