"""How the gateway logs: text (the default) or one JSON object per line (``GA4GW_LOG_FORMAT=json``), redacted.

A JSON line has ``time`` (ISO 8601, UTC, milliseconds), ``level``, ``logger`` and ``message``, plus ``request_id``
on every line logged while a request is handled (``REQUEST_ID``, set by ``gateway.telemetry.access``; it follows
the request into worker threads, which anyio runs in a copy of the request's context) and the fields a line adds
(the access log's ``method``, ``path``, ``status``, ``duration_ms``). Text lines carry the same request id.

Every message and every traceback goes through ``redaction.redact`` before it is written, whichever format:
an error's text comes from elsewhere (a driver quoting a DSN with its password, a client's body quoting an
email, a token) and the log must hold none of it. python-json-logger does the JSON: it is a plain
``logging.Formatter``, so every logger of every library (uvicorn's included) goes through the same handler,
with no second logging API to learn (structlog would be one, for nothing this needs).
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from .redaction import redact

__all__ = ["REQUEST_ID", "configure"]

REQUEST_ID: ContextVar[str] = ContextVar("ga4gw_request_id", default="")
_TRACEBACK_CHARS = 20_000


def _iso(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class _Redacted(logging.Filter):
    """Redact the message (its arguments merged in first) and add the request id of the request being handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), limit=_TRACEBACK_CHARS)
        record.args = None
        request_id = REQUEST_ID.get()
        if request_id:
            record.request_id = request_id
        return True


class _Text(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", "")
        if not request_id:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [request {request_id}]{newline}{rest}"

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei), limit=_TRACEBACK_CHARS)


class _Json(JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's message again, with terminal colours
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _iso(record)

    def formatException(self, ei: Any) -> str:
        return redact(logging.Formatter.formatException(self, ei), limit=_TRACEBACK_CHARS)

    def formatStack(self, stack_info: str) -> str:
        return redact(logging.Formatter.formatStack(self, stack_info), limit=_TRACEBACK_CHARS)


def configure(log_format: str, level: str) -> None:
    """Send every logger's lines to stderr in ``log_format`` (``text`` or ``json``) at ``level``, redacted.

    Replaces the root logger's handlers, so calling it twice (tests, the CLI then ``serve``) leaves one handler.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json() if log_format == "json" else _Text())
    handler.addFilter(_Redacted())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
