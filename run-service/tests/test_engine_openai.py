"""OpenAIEngine against a scripted OpenAI-compatible server speaking the real wire format."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from run_service.engines import (
    AttachedFile,
    EngineError,
    ErrorInfo,
    Execution,
    HistoryMessage,
    RunRequest,
)
from run_service.engines.openai_engine import OpenAIEngine
from run_service.engines.sandbox_executor import SandboxExecutor
from run_service.sandbox import SessionPool
from run_service.testing.scripted_openai import (
    MODEL,
    ScriptedServer,
    calls_python,
    says,
    scripted_openai_server,
)


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    """A scripted server on a free loopback port."""
    async with scripted_openai_server() as scripted:
        yield scripted


@dataclass
class FakeExecutor:
    """A test-only executor that records code and answers from a table (loop logic only)."""

    outputs: dict[str, Execution] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)

    async def execute(self, code: str) -> Execution:
        self.ran.append(code)
        return self.outputs.get(code, Execution(code=code, stdout=f"ran {len(self.ran)}\n"))


async def test_tool_results_are_fed_back_with_their_call_ids(server: ScriptedServer) -> None:
    first = calls_python("a = 1", "print(a + 1)")
    server.script = [first, says("a + 1 is 2")]
    executor = FakeExecutor()

    outcome = await server.engine().run(RunRequest(message="add one"), executor)

    assert outcome.answer == "a + 1 is 2"
    assert executor.ran == ["a = 1", "print(a + 1)"]
    assert [e.code for e in outcome.executions] == ["a = 1", "print(a + 1)"]
    assert outcome.steps == 2
    assert outcome.stopped_early is None
    sent_ids = [c["id"] for c in first["choices"][0]["message"]["tool_calls"]]
    second = server.requests[1]["messages"]
    echoed = [m for m in second if m["role"] == "assistant"][-1]
    assert [c["id"] for c in echoed["tool_calls"]] == sent_ids
    tools = server.tool_messages(1)
    assert [m["tool_call_id"] for m in tools] == sent_ids
    assert "ran 2" in tools[1]["content"]


async def test_request_carries_tool_system_prompt_history_and_files(
    server: ScriptedServer,
) -> None:
    server.script = [says("hello again")]
    profile = {"columns": ["region", "amount"], "column_types": {"amount": "float"}, "row_count": 3}
    request = RunRequest(
        message="and now?",
        history=(HistoryMessage("user", "hi"), HistoryMessage("assistant", "hello")),
        files=(AttachedFile("sales.csv", "/mnt/data/sales.csv", profile),),
    )

    await server.engine().run(request, FakeExecutor())

    body = server.requests[0]
    assert body["model"] == MODEL
    assert body["tools"][0]["function"]["name"] == "python"
    assert body["tools"][0]["function"]["parameters"]["required"] == ["code"]
    roles = [(m["role"], m["content"]) for m in body["messages"][1:]]
    assert roles == [("user", "hi"), ("assistant", "hello"), ("user", "and now?")]
    system = body["messages"][0]
    assert system["role"] == "system"
    assert "/mnt/data" in system["content"]
    assert "/mnt/data/sales.csv: 3 rows; columns region, amount (float)" in system["content"]


async def test_model_answering_without_the_tool_runs_nothing(server: ScriptedServer) -> None:
    server.script = [says("Paris.")]
    executor = FakeExecutor()

    outcome = await server.engine().run(RunRequest(message="capital of France?"), executor)

    assert (outcome.answer, outcome.steps, outcome.executions) == ("Paris.", 1, ())
    assert executor.ran == []


async def test_without_code_interpreter_no_tools_are_offered(server: ScriptedServer) -> None:
    server.script = [calls_python("print(1)")]  # a confused model: its call is not run
    executor = FakeExecutor()

    request = RunRequest(message="explain", use_code_interpreter=False)
    outcome = await server.engine().run(request, executor)

    assert "tools" not in server.requests[0]
    assert "without running code" in server.requests[0]["messages"][0]["content"]
    assert executor.ran == []
    assert outcome.steps == 1


async def test_loop_stops_at_max_steps_with_the_reason(server: ScriptedServer) -> None:
    server.script = [calls_python(f"step = {n}") for n in range(5)]
    executor = FakeExecutor()

    outcome = await server.engine(max_steps=3).run(RunRequest(message="loop"), executor)

    assert len(server.requests) == 3
    assert outcome.steps == 3
    assert outcome.stopped_early is not None
    assert "step limit (3" in outcome.stopped_early
    assert outcome.answer.startswith("Stopped before a final answer: the step limit")
    assert "ran 3" in outcome.answer  # what is known: the last execution's output
    assert len(outcome.executions) == 3


async def test_empty_final_answer_falls_back_to_the_last_output(server: ScriptedServer) -> None:
    server.script = [calls_python("print('hi')"), says("")]

    outcome = await server.engine().run(RunRequest(message="go"), FakeExecutor())

    assert outcome.answer.startswith("The model returned an empty answer.")
    assert "Output:\n```\nran 1\n```" in outcome.answer


async def test_malformed_arguments_are_reported_to_the_model_not_run(
    server: ScriptedServer,
) -> None:
    bad = calls_python("unused")
    bad["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = "print(1"
    server.script = [bad, says("sorry")]
    executor = FakeExecutor()

    outcome = await server.engine().run(RunRequest(message="go"), executor)

    assert executor.ran == []
    assert "must be a JSON object" in server.tool_messages(1)[0]["content"]
    assert outcome.answer == "sorry"


async def test_errors_and_files_reach_the_model_capped(server: ScriptedServer) -> None:
    code = "boom()"
    failed = Execution(
        code=code,
        stdout="x" * 50_000,
        error=ErrorInfo("NameError", "name 'boom' is not defined", "Traceback …\nNameError"),
        files=("chart.png",),
    )
    server.script = [calls_python(code), says("fixed")]

    await server.engine().run(RunRequest(message="go"), FakeExecutor({code: failed}))

    content = server.tool_messages(1)[0]["content"]
    assert "[error]\nTraceback …\nNameError" in content
    assert "chart.png" in content
    assert "characters omitted" in content
    assert len(content) < 6000


async def test_server_error_raises_engine_error(server: ScriptedServer) -> None:
    server.script = [500]
    with pytest.raises(EngineError, match="answered 500: scripted failure"):
        await server.engine().run(RunRequest(message="hi"), FakeExecutor())


async def test_unknown_model_4xx_raises_engine_error(server: ScriptedServer) -> None:
    server.script = [404]
    with pytest.raises(EngineError, match="answered 404"):
        await server.engine().run(RunRequest(message="hi"), FakeExecutor())


async def test_slow_server_raises_engine_error(server: ScriptedServer) -> None:
    server.script, server.delay_s = [says("late")], 2.0
    with pytest.raises(EngineError, match="did not answer in time"):
        await server.engine(timeout=0.3).run(RunRequest(message="hi"), FakeExecutor())


async def test_server_down_raises_engine_error() -> None:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    engine = OpenAIEngine(f"http://127.0.0.1:{port}/v1", None, MODEL, max_retries=0)
    with pytest.raises(EngineError, match="cannot reach the model server"):
        await engine.run(RunRequest(message="hi"), FakeExecutor())


async def test_real_sandbox_output_goes_back_to_the_model(
    server: ScriptedServer, pool: SessionPool
) -> None:
    thread = f"t-{uuid.uuid4().hex[:8]}"
    code = "import os\nx = 6 * 7\nopen('answer.txt', 'w').write(str(x))\nprint('x is', x)\nx"
    server.script = [calls_python(code), calls_python("x + 1"), says("x is 42")]

    outcome = await server.engine().run(
        RunRequest(message="compute"), SandboxExecutor(pool, thread)
    )

    assert outcome.answer == "x is 42"
    first, second = outcome.executions
    assert (first.stdout, first.result, first.files) == ("x is 42\n", "42", ("answer.txt",))
    assert second.result == "43"  # the session kept x between tool calls
    fed_back = server.tool_messages(1)[0]["content"]
    assert "[stdout]\nx is 42" in fed_back
    assert "[files in /mnt/data] answer.txt" in fed_back
    assert "[result]\n43" in server.tool_messages(2)[1]["content"]
