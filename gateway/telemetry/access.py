"""Request ids and the access log: one pure ASGI middleware (``RequestLog``).

Each request gets an id: the client's ``X-Request-ID`` when it is well formed (a proxy or the shop's backend
correlating its own logs), else a new one. It is set in ``logs.REQUEST_ID`` for every line logged while the
request is handled and echoed in the answer's ``X-Request-ID``. When the answer is sent, one access line is logged
(``ga4gw.access``): method, path (never the query string: ``/mp/collect``'s carries its ``api_secret``, and
``/v1/consent``'s an email), status, duration in milliseconds, request id.

The tracking edge (``/o/``, ``/c/``) is the hot path: ``gateway.service.app`` puts this middleware behind the
edge's dispatch, so an open or a click does no logging work at all, unless ``GA4GW_ACCESS_LOG_EDGE`` asks for
their lines (the middleware then goes in front, and their token is not logged: ``/c/<token>``).
uvicorn's own access log is off (``gateway.cli.serve``): these lines replace it.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import REQUEST_ID
from .redaction import redact

__all__ = ["HEADER", "RequestLog", "request_id_from"]

HEADER = "x-request-id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_EDGE = ("/o/", "/c/")
log = logging.getLogger("ga4gw.access")


def request_id_from(value: str) -> str:
    """The client's request id when it is well formed and holds nothing the log must not (a token, an email)."""
    if _WELL_FORMED.fullmatch(value) and redact(value) == value:
        return value
    return secrets.token_hex(8)


def _path(path: str) -> str:
    for prefix in _EDGE:
        if path.startswith(prefix):
            return prefix + "<token>"  # a signed token: a recipient's pseudonym is in it
    return path


class RequestLog:
    """Pure ASGI (no ``BaseHTTPMiddleware``): sets the request id, echoes it, logs one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = request_id_from(given) if given else secrets.token_hex(8)
        # Not reset afterwards: uvicorn runs each request in a task of its own, and the error it logs when the app
        # raised should carry the id too.
        REQUEST_ID.set(request_id)
        header = (HEADER.encode(), request_id.encode())
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            millis = round((time.perf_counter() - started) * 1000, 1)
            method, path = scope["method"], redact(_path(scope["path"]), limit=300)
            log.info(
                "%s %s %d %.1f ms",
                method,
                path,
                status,
                millis,
                extra={"method": method, "path": path, "status": status, "duration_ms": millis},
            )
