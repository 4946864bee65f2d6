"""Bad input gets a clear 4xx with a string `detail`, and loses nothing."""

import httpx
import pytest

from tests.api.conftest import MAX_BODY


async def assert_error(response: httpx.Response, status: int, mentions: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail"}
    assert isinstance(body["detail"], str)
    assert mentions.lower() in body["detail"].lower()


async def test_unknown_thread_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/thread/thread_doesnotexist/messages")
    await assert_error(response, 404, "thread_doesnotexist not found")
    events = await client.get("/api/thread/thread_doesnotexist/events")
    await assert_error(events, 404, "not found")
    post = await client.post("/api/thread/thread_nope/messages", json={"content": "hi"})
    await assert_error(post, 404, "not found")


@pytest.mark.parametrize(
    "bad_id",
    ["abc", "thread_", "thread_a-b", "thread_" + "x" * 65, "thread_%2e%2e", "thread_é", "THREAD_x"],
)
async def test_malformed_thread_ids_are_400(client: httpx.AsyncClient, bad_id: str) -> None:
    response = await client.get(f"/api/thread/{bad_id}/messages")
    await assert_error(response, 400, "malformed thread_id")


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    thread_id = (await client.post("/api/thread/create")).json()["thread_id"]
    response = await client.post(
        f"/api/thread/{thread_id}/messages",
        content=b'{"content": "unterminated',
        headers={"content-type": "application/json"},
    )
    await assert_error(response, 400, "malformed json")


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"content": 42}, "content"),
        ({"content": ""}, "content"),
        ({}, "content"),
        ({"content": "hi", "surprise": 1}, "surprise"),
        (["content"], "body"),
    ],
)
async def test_wrong_types_and_fields_are_422(
    client: httpx.AsyncClient, body: object, mentions: str
) -> None:
    thread_id = (await client.post("/api/thread/create")).json()["thread_id"]
    response = await client.post(f"/api/thread/{thread_id}/messages", json=body)
    await assert_error(response, 422, mentions)
    assert (await client.get(f"/api/thread/{thread_id}/messages")).json() == {"messages": []}


async def test_oversized_body_is_413_and_nothing_is_stored(client: httpx.AsyncClient) -> None:
    thread_id = (await client.post("/api/thread/create")).json()["thread_id"]
    response = await client.post(
        f"/api/thread/{thread_id}/messages", json={"content": "x" * (MAX_BODY + 1)}
    )
    await assert_error(response, 413, "too large")
    assert (await client.get(f"/api/thread/{thread_id}/messages")).json() == {"messages": []}


async def test_nul_characters_in_content_are_refused(client: httpx.AsyncClient) -> None:
    thread_id = (await client.post("/api/thread/create")).json()["thread_id"]
    response = await client.post(f"/api/thread/{thread_id}/messages", json={"content": "a\x00b"})
    await assert_error(response, 400, "nul")


async def test_bad_paging_parameters_are_422(client: httpx.AsyncClient) -> None:
    thread_id = (await client.post("/api/thread/create")).json()["thread_id"]
    for params in ({"limit": 0}, {"limit": 5000}, {"from_version": -1}, {"limit": "many"}):
        response = await client.get(f"/api/thread/{thread_id}/events", params=params)
        await assert_error(response, 422, "")


async def test_unknown_route_and_wrong_method_answer_with_detail(
    client: httpx.AsyncClient,
) -> None:
    await assert_error(await client.get("/api/nothing-here"), 404, "not found")
    await assert_error(await client.get("/api/thread/create"), 405, "method not allowed")


async def test_oversized_chunked_body_without_length_is_413(client: httpx.AsyncClient) -> None:
    thread_id = (await client.post("/api/thread/create")).json()["thread_id"]

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"content": "'
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    response = await client.post(
        f"/api/thread/{thread_id}/messages",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    await assert_error(response, 413, "too large")
    assert (await client.get(f"/api/thread/{thread_id}/messages")).json() == {"messages": []}
