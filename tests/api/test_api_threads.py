"""The thread routes as a client sees them (whole system in memory)."""

import asyncio
import time

import httpx


async def create(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/thread/create")
    assert response.status_code == 200
    thread_id: str = response.json()["thread_id"]
    return thread_id


async def test_root_says_what_it_is(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == {"message": "OpenAI Code Interpreter Explorer API"}


async def test_created_thread_is_readable_at_once_and_empty(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/thread/create")
    body = response.json()
    assert body["status"] == "created"
    assert body["thread_id"].startswith("thread_")
    messages = await client.get(f"/api/thread/{body['thread_id']}/messages")
    assert messages.status_code == 200
    assert messages.json() == {"messages": []}


async def test_posted_messages_come_back_oldest_first_in_the_spec_shape(
    client: httpx.AsyncClient,
) -> None:
    thread_id = await create(client)
    before = int(time.time())
    for text in ["first", "second ☃", "third"]:
        posted = await client.post(f"/api/thread/{thread_id}/messages", json={"content": text})
        assert posted.status_code == 200, posted.text
        assert posted.json()["content"] == text
    messages = (await client.get(f"/api/thread/{thread_id}/messages")).json()["messages"]
    assert [m["content"] for m in messages] == ["first", "second ☃", "third"]
    for message in messages:
        assert set(message) == {"id", "role", "content", "annotations", "created_at"}
        assert message["id"].startswith("msg_")
        assert message["role"] == "user"
        assert message["annotations"] == []
        assert before - 1 <= message["created_at"] <= int(time.time()) + 1


async def test_threads_do_not_see_each_others_messages(client: httpx.AsyncClient) -> None:
    first, second = await create(client), await create(client)
    await client.post(f"/api/thread/{first}/messages", json={"content": "only in first"})
    assert (await client.get(f"/api/thread/{second}/messages")).json() == {"messages": []}


async def test_concurrent_posts_to_one_thread_all_land(client: httpx.AsyncClient) -> None:
    thread_id = await create(client)
    responses = await asyncio.gather(
        *(
            client.post(f"/api/thread/{thread_id}/messages", json={"content": f"m{i}"})
            for i in range(15)
        )
    )
    assert all(response.status_code == 200 for response in responses)
    messages = (await client.get(f"/api/thread/{thread_id}/messages")).json()["messages"]
    assert sorted(m["content"] for m in messages) == sorted(f"m{i}" for i in range(15))


async def test_events_route_shows_the_raw_history_in_pages(client: httpx.AsyncClient) -> None:
    thread_id = await create(client)
    for i in range(4):
        await client.post(f"/api/thread/{thread_id}/messages", json={"content": f"m{i}"})
    page = (await client.get(f"/api/thread/{thread_id}/events", params={"limit": 3})).json()
    assert [e["type"] for e in page["events"]] == [
        "thread.created",
        "thread.user_message_posted",
        "thread.user_message_posted",
    ]
    assert [e["version"] for e in page["events"]] == [0, 1, 2]
    positions = [e["position"] for e in page["events"]]
    assert positions == sorted(positions)
    assert page["events"][1]["payload"]["content"] == "m0"
    assert page["events"][0]["correlation_id"]
    assert page["next_from_version"] == 3
    rest = await client.get(
        f"/api/thread/{thread_id}/events", params={"from_version": 3, "limit": 3}
    )
    assert [e["version"] for e in rest.json()["events"]] == [3, 4]
    assert rest.json()["next_from_version"] is None


async def test_docs_and_redoc_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/redoc")).status_code == 200
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/", "/api/thread/create", "/api/thread/{thread_id}/messages"} <= set(paths)
