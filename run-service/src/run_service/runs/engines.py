"""Which engine answers a run: a built-in program, the configured model, or no model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from contracts.runs import RunRequested
from run_service.engines import Engine, NoModelEngine
from run_service.engines.health import model_check
from run_service.programs import ProgramEngine


@dataclass(frozen=True)
class EngineChoice:
    """The engine for one run and the name recorded in `run.started`."""

    engine: Engine
    name: str


@dataclass(frozen=True)
class Engines:
    """The configured model engine (None: no model) and the built-in programs."""

    model: Engine | None = None
    model_name: str | None = None
    # The `model` line of /readyz (reports, never fails readiness).
    check: Callable[[], Awaitable[str]] = field(default_factory=lambda: model_check(None))

    def for_run(self, request: RunRequested) -> EngineChoice:
        """Examples always run their program; analysis without a model runs the built-in one."""
        if request.kind == "example" and request.example is not None:
            return EngineChoice(ProgramEngine(request.example), f"program:{request.example}")
        if self.model is None:
            if request.kind == "analyze":
                return EngineChoice(ProgramEngine("analyze"), "program:analyze")
            return EngineChoice(NoModelEngine(), "no-model")
        return EngineChoice(self.model, f"model:{self.model_name}")
