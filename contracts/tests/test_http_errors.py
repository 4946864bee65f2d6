"""Dependency outages answer 503 with a plain sentence, never 500 or a raw exception repr
(issue 12, defect 8): the failures below are real ones, from connecting to a closed port."""

import aio_pika
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from eventkit.http_errors import dependency_outage, install_error_handlers

CLOSED = "127.0.0.1:1"


class _ServiceError(Exception):
    pass


async def _database_down() -> None:
    engine = create_async_engine(f"postgresql+asyncpg://postgres@{CLOSED}/postgres")
    try:
        async with engine.connect():
            pass
    finally:
        await engine.dispose()


async def _broker_down() -> None:
    await aio_pika.connect(f"amqp://guest:guest@{CLOSED}/", timeout=5)


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, _ServiceError)
    app.get("/db")(_database_down)
    app.get("/broker")(_broker_down)

    @app.get("/bug")
    async def bug() -> None:
        raise KeyError("not an outage")

    return app


@pytest.mark.parametrize(
    ("path", "said"),
    [("/db", "The database is unavailable"), ("/broker", "The message broker is unavailable")],
)
async def test_an_outage_is_a_503_with_a_plain_sentence(path: str, said: str) -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(path)
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail.startswith(f"{said}; try again in a moment (reference ")
    assert "Error" not in detail  # no exception class, no repr
    assert response.headers["retry-after"] == "5"


async def test_a_bug_is_still_a_500() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/bug")
    assert response.status_code == 500
    assert response.json()["detail"].startswith("Internal server error (reference ")


def test_a_query_error_is_not_an_outage() -> None:
    from sqlalchemy.exc import IntegrityError

    assert dependency_outage(IntegrityError("INSERT", {}, Exception("duplicate key"))) is None
