"""Structured JSON logging that Cloud Logging understands (severity, message, trace)."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

_trace: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace", default=None)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class CloudLoggingFormatter(logging.Formatter):
    """Format a record as one JSON line with Cloud Logging's special fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "logger": record.name,
        }
        trace = _trace.get()
        if trace:
            entry["logging.googleapis.com/trace"] = trace
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Write to whatever ``sys.stdout`` is at the time of the record (test capture included)."""

    @property
    def stream(self) -> TextIO:
        """Return the current standard output."""
        return sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignore: the stream is always the current standard output."""


def configure_logging(level: str | None = None) -> None:
    """Send every log record to stdout as one JSON line (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, CloudLoggingFormatter) for h in root.handlers):
        return
    handler = _StdoutHandler()
    handler.setFormatter(CloudLoggingFormatter())
    root.handlers = [handler]
    root.setLevel(level or os.environ.get("PILOTO_LOG_LEVEL", "INFO"))
    for chatty in ("httpx", "httpcore", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def bind_trace(header_value: str | None, project_id: str) -> None:
    """Attach the request's X-Cloud-Trace-Context to every log line of this context."""
    if not header_value:
        _trace.set(None)
        return
    trace_id = header_value.split("/", 1)[0]
    _trace.set(f"projects/{project_id}/traces/{trace_id}" if trace_id else None)
