"""A scripted OpenAI-compatible chat completions server, for tests of the model path.

It speaks the real wire format (`tool_calls`, `finish_reason`, error bodies) and answers from a
script, so the engines are tested against HTTP exactly as a model server would answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from run_service.engines.openai_engine import OpenAIEngine

MODEL = "scripted-model"


def completion(message: dict[str, Any], finish_reason: str) -> dict[str, Any]:
    """A chat.completion body as OpenAI, Ollama and vLLM send it."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": 1_790_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
    }


def says(text: str) -> dict[str, Any]:
    """A reply without tool calls."""
    return completion({"role": "assistant", "content": text}, "stop")


def calls_python(*codes: str, content: str | None = None) -> dict[str, Any]:
    """A reply calling the python tool once per code, with ids call_<n>."""
    tool_calls = [
        {
            "id": f"call_{index}_{uuid.uuid4().hex[:6]}",
            "type": "function",
            "function": {"name": "python", "arguments": json.dumps({"code": code})},
        }
        for index, code in enumerate(codes)
    ]
    message = {"role": "assistant", "content": content, "tool_calls": tool_calls}
    return completion(message, "tool_calls")


@dataclass
class ScriptedServer:
    """Answers /v1/chat/completions from a script and records every request body."""

    script: list[dict[str, Any] | int] = field(default_factory=list)  # an int is an HTTP error
    requests: list[dict[str, Any]] = field(default_factory=list)
    delay_s: float = 0.0
    base_url: str = ""
    engines: list[OpenAIEngine] = field(default_factory=list)

    async def chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        step = self.script.pop(0) if self.script else 500
        if isinstance(step, int):
            error = {"message": "scripted failure", "type": "server_error", "code": None}
            return JSONResponse({"error": error}, status_code=step)
        return JSONResponse(step)

    async def models(self, request: Request) -> JSONResponse:
        """`GET /v1/models`, as every OpenAI-compatible server serves it."""
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        listed = [{"id": MODEL, "object": "model", "created": 0, "owned_by": "scripted"}]
        return JSONResponse({"object": "list", "data": listed})

    def engine(self, **kwargs: Any) -> OpenAIEngine:
        """An engine pointed at this server, without SDK retries (tests stay fast)."""
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 10.0)
        engine = OpenAIEngine(self.base_url, "sk-test", MODEL, **kwargs)
        self.engines.append(engine)
        return engine

    def tool_messages(self, index: int) -> list[dict[str, Any]]:
        """The tool messages of the index-th request."""
        return [m for m in self.requests[index]["messages"] if m["role"] == "tool"]


@contextlib.asynccontextmanager
async def scripted_openai_server() -> AsyncIterator[ScriptedServer]:
    """A scripted OpenAI-compatible server on a free loopback port, for as long as the block."""
    scripted = ScriptedServer()
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", scripted.chat, methods=["POST"]),
            Route("/v1/models", scripted.models, methods=["GET"]),
        ]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    scripted.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    while not uv.started:
        await asyncio.sleep(0.01)
    yield scripted
    for engine in scripted.engines:
        await engine.aclose()
    uv.should_exit = True
    await task
    sock.close()
