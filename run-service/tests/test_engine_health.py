"""The `model` line of /readyz: what it says about the configured model server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from run_service.bootstrap import engines_from
from run_service.engines import ModelSettings
from run_service.engines.health import model_check
from run_service.testing.scripted_openai import MODEL, ScriptedServer, scripted_openai_server


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with scripted_openai_server() as scripted:
        yield scripted


def settings(base_url: str, name: str = MODEL) -> ModelSettings:
    return ModelSettings(base_url=base_url, name=name, api_key="sk-test")


async def test_no_model_is_said_plainly() -> None:
    line = await model_check(ModelSettings(name=None))()
    assert line.startswith("none configured")
    assert "CIE_MODEL_NAME" in line
    assert await engines_from(ModelSettings(name=None)).check() == line


async def test_a_model_server_that_answers(server: ScriptedServer) -> None:
    line = await engines_from(settings(server.base_url)).check()
    assert line == f"{MODEL} at {server.base_url} answers"


async def test_a_model_the_server_does_not_serve_is_named(server: ScriptedServer) -> None:
    line = await model_check(settings(server.base_url, name="llama-missing"))()
    assert "does not list llama-missing" in line
    assert MODEL in line


async def test_a_model_server_that_is_down_does_not_fail_readiness() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    line = await model_check(settings(f"http://127.0.0.1:{port}/v1"))()
    assert "does not answer" in line


async def test_a_slow_model_server_is_reported_quickly(server: ScriptedServer) -> None:
    server.delay_s = 1.5
    line = await asyncio.wait_for(model_check(settings(server.base_url), timeout_s=0.3)(), 3.0)
    assert "did not answer within 0.3 s" in line
