"""The engine used when no model is configured: runs fenced Python, and says so otherwise."""

from __future__ import annotations

from run_service.engines import render
from run_service.engines.fences import python_blocks
from run_service.engines.port import CodeExecutor, ExecutionLog, RunOutcome, RunRequest
from run_service.engines.settings import ENV_API_KEY, ENV_BASE_URL, ENV_NAME

HOW_TO_CONFIGURE = (
    f"To chat with a model, set {ENV_BASE_URL} (an OpenAI-compatible endpoint, for example "
    f"https://api.openai.com/v1, or http://localhost:11434/v1 for Ollama), {ENV_NAME} (the "
    f"model, for example gpt-4o-mini or llama3.1) and, if the server needs one, {ENV_API_KEY}, "
    "then restart the service."
)
NO_MODEL = (
    "No model is configured, so plain-language messages cannot be answered. "
    "Without a model, Python in ```python fenced blocks is run exactly as written, "
    "in a session whose working directory is /mnt/data. " + HOW_TO_CONFIGURE
)
NO_MODEL_NO_TOOL = (
    "No model is configured, and the code interpreter is off for this request, so there is "
    "nothing that can answer it. " + HOW_TO_CONFIGURE
)


class NoModelEngine:
    """Runs each ```python block of the message in order and shows it with its results."""

    async def run(self, request: RunRequest, executor: CodeExecutor) -> RunOutcome:
        """Execute the fenced blocks, or explain that no model is configured."""
        if not request.use_code_interpreter:
            return RunOutcome(answer=NO_MODEL_NO_TOOL)
        blocks = python_blocks(request.message)
        if not blocks:
            return RunOutcome(answer=NO_MODEL)
        log = ExecutionLog()
        sections: list[str] = []
        stopped: str | None = None
        for number, code in enumerate(blocks, start=1):
            execution = await log.run(executor, code)
            title = f"Block {number} of {len(blocks)}" if len(blocks) > 1 else "The code"
            sections.append(f"**{title}**\n\n{render.for_answer(execution, show_code=True)}")
            if execution.error is not None and number < len(blocks):
                # Like "run all" in a notebook: later blocks usually depend on the failed one.
                stopped = f"block {number} raised {execution.error.type}"
                sections.append(
                    f"Stopped after block {number} because it raised an error; "
                    f"{len(blocks) - number} later block(s) were not run."
                )
                break
        return RunOutcome(
            answer="\n\n".join(sections),
            executions=tuple(log.executions),
            steps=len(log.executions),
            stopped_early=stopped,
        )
