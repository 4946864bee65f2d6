"""/api/chat with a model: gateway, run-service and sandbox driven by a scripted model server."""

from collections.abc import AsyncIterator

import httpx
import pytest

from cie_embedded.system import RunsConfig, in_memory_system
from gateway.app import create_app
from run_service.bootstrap import engines_from
from run_service.engines import ModelSettings
from run_service.runs.engines import Engines
from run_service.testing.scripted_openai import (
    MODEL,
    ScriptedServer,
    calls_python,
    says,
    scripted_openai_server,
)


@pytest.fixture
async def model() -> AsyncIterator[ScriptedServer]:
    async with scripted_openai_server() as server:
        yield server


@pytest.fixture
async def model_client(runs: RunsConfig, model: ScriptedServer) -> AsyncIterator[httpx.AsyncClient]:
    """The system in memory with the scripted model configured."""
    with_model = RunsConfig(
        runs.pool, Engines(model=model.engine(), model_name="scripted"), run_timeout_s=60.0
    )
    app = create_app(lambda: in_memory_system(with_model))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_the_model_runs_code_and_answers_from_its_output(
    model_client: httpx.AsyncClient, model: ScriptedServer
) -> None:
    model.script = [calls_python("print(sum(range(101)))"), says("The sum is 5050.")]

    response = await model_client.post("/api/chat", json={"message": "Add 0 to 100"})

    assert response.status_code == 200, response.text
    assert response.json()["message"] == "The sum is 5050."
    tool_results = model.tool_messages(1)
    assert "5050" in tool_results[0]["content"]
    events = await model_client.get(f"/api/thread/{response.json()['thread_id']}/events")
    types = [e["type"] for e in events.json()["events"]]
    assert types.count("run.code_executed") == 1


async def test_the_second_message_carries_the_conversation_so_far(
    model_client: httpx.AsyncClient, model: ScriptedServer
) -> None:
    model.script = [says("Hello! Ask me about data."), says("You said hi before.")]
    first = (await model_client.post("/api/chat", json={"message": "hi"})).json()

    await model_client.post(
        "/api/chat", json={"message": "what did I say?", "thread_id": first["thread_id"]}
    )

    sent = [(m["role"], m["content"]) for m in model.requests[1]["messages"][1:]]
    assert sent == [
        ("user", "hi"),
        ("assistant", "Hello! Ask me about data."),
        ("user", "what did I say?"),
    ]


async def test_a_model_server_error_is_a_500_with_the_reason_and_the_thread_goes_on(
    model_client: httpx.AsyncClient, model: ScriptedServer
) -> None:
    model.script = [503, says("Back again.")]
    failed = await model_client.post("/api/chat", json={"message": "hi"})

    assert failed.status_code == 500
    detail = failed.json()["detail"]
    assert "The model could not answer" in detail
    thread_id = next(word for word in detail.split() if word.startswith("thread_"))
    after = await model_client.post("/api/chat", json={"message": "again", "thread_id": thread_id})
    assert after.json()["message"] == "Back again."


async def test_without_the_code_interpreter_the_model_gets_no_tool(
    model_client: httpx.AsyncClient, model: ScriptedServer
) -> None:
    model.script = [says("Plain answer.")]

    response = await model_client.post(
        "/api/chat", json={"message": "hi", "use_code_interpreter": False}
    )

    assert response.json()["message"] == "Plain answer."
    assert "tools" not in model.requests[0] or not model.requests[0]["tools"]


async def test_readiness_says_whether_the_model_server_answers(
    runs: RunsConfig, model: ScriptedServer
) -> None:
    configured = ModelSettings(base_url=model.base_url, name=MODEL, api_key="sk-test")
    app = create_app(lambda: in_memory_system(RunsConfig(runs.pool, engines_from(configured))))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ready = await client.get("/readyz")
            model.delay_s = 3.0  # a slow model server is reported, and readiness holds
            slow = await client.get("/readyz")

    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["model"] == f"{MODEL} at {model.base_url} answers"
    assert slow.status_code == 200, slow.text
    assert "did not answer within" in slow.json()["checks"]["model"]
