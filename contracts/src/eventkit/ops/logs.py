"""Structured JSON logs, each line carrying the correlation id of the request or message."""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

CORRELATION_ID: ContextVar[str | None] = ContextVar("cie_correlation_id", default=None)
"""The correlation id of the HTTP request or bus message being handled (None: none)."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, correlation_id."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation = CORRELATION_ID.get()
        if correlation is not None:
            entry["correlation_id"] = correlation
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str, *, json_lines: bool = True) -> None:
    """Send every log record to stderr, as JSON lines (or plain text for local reading)."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
