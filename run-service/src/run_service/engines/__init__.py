"""Model engines: how a run thinks (a model with a `python` tool, or no model at all).

`OpenAIEngine` lives in `run_service.engines.openai_engine`, imported only where a model is used.
"""

from run_service.engines.factory import engine_from_settings
from run_service.engines.no_model import NoModelEngine
from run_service.engines.port import (
    DATA_DIR,
    AttachedFile,
    CodeExecutor,
    Engine,
    EngineError,
    ErrorInfo,
    Execution,
    HistoryMessage,
    RunOutcome,
    RunRequest,
)
from run_service.engines.settings import ModelSettings

__all__ = [
    "DATA_DIR",
    "AttachedFile",
    "CodeExecutor",
    "Engine",
    "EngineError",
    "ErrorInfo",
    "Execution",
    "HistoryMessage",
    "ModelSettings",
    "NoModelEngine",
    "RunOutcome",
    "RunRequest",
    "engine_from_settings",
]
