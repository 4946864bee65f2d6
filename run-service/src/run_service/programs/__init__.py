"""Built-in programs, run without a model: the spec's three examples and the file analysis."""

from run_service.programs.engine import PROGRAM_NAMES, ProgramEngine

__all__ = ["PROGRAM_NAMES", "ProgramEngine"]
