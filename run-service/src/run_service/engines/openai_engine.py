"""The engine for any OpenAI-compatible chat completions endpoint, with a `python` tool."""

from __future__ import annotations

import json

import openai
from openai.types.chat import (
    ChatCompletionMessage,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)
from opentelemetry.trace import SpanKind

from eventkit.ops.trace import spanned
from run_service.engines import render
from run_service.engines.port import (
    CodeExecutor,
    EngineError,
    ExecutionLog,
    RunOutcome,
    RunRequest,
)
from run_service.engines.prompt import system_prompt

PYTHON_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "python",
        "description": (
            "Run Python code in the user's persistent session (working directory /mnt/data). "
            "Returns what it printed, the value of the last expression, errors with their "
            "traceback, and the names of files it wrote."
        ),
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
        },
    },
}


class OpenAIEngine:
    """Chat completions with a bounded tool loop: the model writes code, the session runs it."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        model: str,
        *,
        max_steps: int = 8,
        timeout: float = 120.0,
        max_retries: int = 2,
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        self.model = model
        self.max_steps = max_steps
        # Local servers (Ollama, vLLM, llama.cpp, LM Studio) ignore the key, but the SDK
        # refuses to start without one.
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=max_retries,
        )
        self._where = base_url or "the OpenAI API"

    async def run(self, request: RunRequest, executor: CodeExecutor) -> RunOutcome:
        """Call the model until it answers without a tool call, or the step limit is hit."""
        messages = _initial_messages(request)
        executions = ExecutionLog()
        reply: ChatCompletionMessage | None = None
        for step in range(1, self.max_steps + 1):
            reply = await self._complete(messages, request.use_code_interpreter)
            calls = _function_calls(reply) if request.use_code_interpreter else []
            if not calls:
                return RunOutcome(
                    answer=reply.content or _empty_answer(executions),
                    executions=tuple(executions.executions),
                    steps=step,
                )
            messages.append(_assistant_turn(reply, calls))
            for call in calls:
                content = await _tool_result(call, executor, executions)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
        reason = f"the step limit ({self.max_steps} model calls) was reached"
        return RunOutcome(
            answer=_step_limit_answer(reply, executions, reason),
            executions=tuple(executions.executions),
            steps=self.max_steps,
            stopped_early=reason,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections (call once, when the service stops)."""
        await self._client.close()

    async def _complete(
        self, messages: list[ChatCompletionMessageParam], with_tool: bool
    ) -> ChatCompletionMessage:
        with spanned("model call", kind=SpanKind.CLIENT) as span:
            if span.is_recording():
                span.set_attributes(
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": self.model,
                        "cie.model.messages": len(messages),
                        "cie.model.with_tool": with_tool,
                    }
                )
            return await self._completion(messages, with_tool)

    async def _completion(
        self, messages: list[ChatCompletionMessageParam], with_tool: bool
    ) -> ChatCompletionMessage:
        try:
            if with_tool:
                completion = await self._client.chat.completions.create(
                    model=self.model, messages=messages, tools=[PYTHON_TOOL]
                )
            else:
                completion = await self._client.chat.completions.create(
                    model=self.model, messages=messages
                )
        except openai.APITimeoutError as exc:
            raise EngineError(f"the model server at {self._where} did not answer in time") from exc
        except openai.APIConnectionError as exc:
            raise EngineError(f"cannot reach the model server at {self._where}: {exc}") from exc
        except openai.APIStatusError as exc:
            raise EngineError(
                f"the model server at {self._where} answered {exc.status_code}: "
                f"{render.cap(_status_detail(exc), 500)}"
            ) from exc
        except openai.OpenAIError as exc:
            raise EngineError(f"the model server at {self._where} failed: {exc}") from exc
        if not completion.choices:
            raise EngineError(f"the model server at {self._where} returned no choices")
        return completion.choices[0].message


def _status_detail(exc: openai.APIStatusError) -> str:
    # The SDK's own message is prefixed with "Error code: …"; the server's words read better.
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return str(exc.message)


def _initial_messages(request: RunRequest) -> list[ChatCompletionMessageParam]:
    prompt = system_prompt(request.files, use_code_interpreter=request.use_code_interpreter)
    messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": prompt}]
    for past in request.history:
        if past.role == "user":
            messages.append({"role": "user", "content": past.content})
        else:
            messages.append({"role": "assistant", "content": past.content})
    messages.append({"role": "user", "content": request.message})
    return messages


def _function_calls(reply: ChatCompletionMessage) -> list[ChatCompletionMessageFunctionToolCall]:
    # Only function tools are offered, so other call kinds cannot be meant for us.
    return [
        call
        for call in reply.tool_calls or []
        if isinstance(call, ChatCompletionMessageFunctionToolCall)
    ]


def _assistant_turn(
    reply: ChatCompletionMessage, calls: list[ChatCompletionMessageFunctionToolCall]
) -> ChatCompletionMessageParam:
    """The model's tool-calling turn, echoed back so each tool result follows its call."""
    return {
        "role": "assistant",
        "content": reply.content,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in calls
        ],
    }


async def _tool_result(
    call: ChatCompletionMessageFunctionToolCall, executor: CodeExecutor, log: ExecutionLog
) -> str:
    """Run the call's code and render the result; a malformed call is reported, not run."""
    if call.function.name != "python":
        return f"error: there is no tool named {call.function.name!r}; use `python`"
    code = _code_argument(call.function.arguments)
    if code is None:
        # Small local models sometimes send broken JSON: tell them, so they can retry.
        return 'error: the arguments must be a JSON object {"code": "<python source>"}'
    return render.for_model(await log.run(executor, code))


def _code_argument(arguments: str) -> str | None:
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    return code if isinstance(code, str) else None


def _empty_answer(log: ExecutionLog) -> str:
    # Some local models end with an empty message after a tool call; the user should still
    # see what the code produced rather than a blank reply.
    if not log.executions:
        return "The model returned an empty answer."
    last = render.for_answer(log.executions[-1], show_code=True)
    return "The model returned an empty answer. The last code that ran:\n\n" + last


def _step_limit_answer(reply: ChatCompletionMessage | None, log: ExecutionLog, reason: str) -> str:
    """What is known when the loop stops early: the model's last words and the last result."""
    parts = [f"Stopped before a final answer: {reason}."]
    if reply is not None and reply.content:
        parts.append(reply.content)
    if log.executions:
        last = render.for_answer(log.executions[-1], show_code=True)
        parts.append("The last code that ran:\n\n" + last)
    return "\n\n".join(parts)
