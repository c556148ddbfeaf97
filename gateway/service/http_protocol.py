"""The HTTP/1.1 protocol `ga4gw serve` runs: uvicorn's httptools protocol with a size limit and a read timeout.

uvicorn picks httptools when it is installed (``uvicorn[standard]``), and httptools has no limit of its own: a
client could send a 100 MB header, which the parser buffers and re-concatenates in the event loop (clicks of
everyone else stalled for seconds), or send a header one byte at a time for ever (uvicorn's only timer, the
keep-alive one, is cancelled by the first byte and armed again only after a response). h11's
``h11_max_incomplete_event_size`` would cap the size but not the time. So this subclass adds both:

- **head size**: the request line and headers of one request may take ``max_head_bytes``; past that the client
  gets ``431 Request Header Fields Too Large`` and the connection is closed. It is checked after each chunk read
  (a chunk is at most a few hundred kB), so no more than that is ever buffered;
- **read timeout**: a request must arrive whole (headers and body) within ``read_timeout`` seconds of its first
  byte, or of the connection's opening for the first request; otherwise ``408 Request Timeout`` (or, once the
  app has started on it, just a close) and the connection is closed. Time the app takes, and idle time between
  requests (uvicorn's keep-alive timeout), are not counted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

__all__ = ["guarded_protocol"]

log = logging.getLogger(__name__)


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops parsing and hands it back wrapped."""


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``max_head_bytes`` and ``read_timeout`` (set by ``guarded_protocol``)."""

    max_head_bytes = 32 * 1024
    read_timeout = 15.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._in_head = True  # reading a request line and headers (not a body, not between requests)
        self._head_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
            if self._deadline is None:
                self._arm()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self._refuse(431, "Request header fields too large.")
                return
            self._refuse(400, "Invalid HTTP request received.")
            return
        except httptools.HttpParserError:
            self._refuse(400, "Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._in_head and self._head_bytes > self.max_head_bytes:
            self._refuse(431, "Request header fields too large.")

    def on_headers_complete(self) -> None:
        self._in_head = False
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_head_bytes:
            raise _HeadTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        log.info("closing a connection from %s: the request did not arrive within %.0f s", client, self.read_timeout)
        if self._in_head and (self.cycle is None or self.cycle.response_complete):
            self._refuse(408, "The request did not arrive in time.")
        else:  # the app has the request: closing tells it the client is gone
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` with a short text and close, like uvicorn's own 400."""
        if status != 408:
            log.info("refused a request (%d): %s", status, message)
        self._disarm()
        body = message.encode("ascii")
        head = [STATUS_LINE[status], *(n + b": " + v + b"\r\n" for n, v in self.server_state.default_headers)]
        head += [b"content-type: text/plain; charset=utf-8\r\n", b"content-length: %d\r\n" % len(body)]
        self.transport.write(b"".join([*head, b"connection: close\r\n\r\n", body]))
        self.transport.close()


def guarded_protocol(max_head_bytes: int, read_timeout: float) -> type[GuardedHttpTools]:
    """The protocol class for ``uvicorn.Config(http=...)`` with these limits."""
    return type("GuardedHttpTools", (GuardedHttpTools,), {"max_head_bytes": max_head_bytes,
                                                           "read_timeout": read_timeout})  # fmt: skip
