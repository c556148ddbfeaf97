"""A local stand-in for Google's Measurement Protocol endpoint: a real HTTP server for tests and demos.

No machine here reaches Google, so the relay is proven against this server. It answers
``POST /mp/collect`` like Google (204, whatever the body) and ``POST /debug/mp/collect`` with the
gateway's own validator, records every collect request it read (time, measurement id, whether the
secret matched, body), and can be told to misbehave for the next requests:

    fail     answer ``status`` (default 503)
    throttle answer 429 with ``Retry-After: seconds``
    stall    wait ``seconds`` before answering (a timeout for the client)
    drop     read the whole body, record it (it did arrive), then cut the connection without answering
    refuse   cut the connection before reading the body (nothing arrived)

and ``pause()`` closes the listening socket (connection refused: down), ``resume()`` opens it again
on the same port. Behaviour is scripted in Python (``script``) or over HTTP by a test in another
process: ``POST /_standin/script`` with ``[{"kind": "fail", "count": 3, "status": 500}, ...]``,
``GET /_standin/requests``, ``GET /_standin/stats``, ``POST /_standin/reset``.

HTTP/1.1 with keep-alive and ``Content-Length`` bodies: what httpx sends. Run it alone with
``ga4gw ga4 standin --port 9999``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .body import validate_text
from .validate import validation_response

__all__ = ["Behaviour", "Received", "StandIn"]

_KINDS = ("ok", "fail", "throttle", "stall", "drop", "refuse")
_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    411: "Length Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Behaviour:
    """What to do with the next ``count`` collect requests (see the module docstring for kinds)."""

    kind: str
    count: int = 1
    status: int = 503
    seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown behaviour {self.kind!r}; one of {', '.join(_KINDS)}")


@dataclass(frozen=True)
class Received:
    """One collect request that was read whole (including those answered with an error or dropped)."""

    at: float
    path: str
    measurement_id: str
    secret_ok: bool
    body: Any
    answered: int  # the status sent back; 0 when the connection was dropped instead
    events: int = field(default=0)


class StandIn:
    """The server. ``start()`` runs it on its own thread and event loop; ``port`` is then set."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_secret: str = "") -> None:
        self.host = host
        self.port = port
        self._secret = api_secret
        self._lock = threading.Lock()
        self._script: deque[Behaviour] = deque()
        self._left = 0  # requests left for the head of the script
        self.received: list[Received] = []
        self._stalling = 0  # requests read and held by a stall right now (a client killed now has them in flight)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # Control ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours; each applies to its ``count`` next collect requests, in order."""
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._left = 0
            self.received = []

    def stalling(self) -> int:
        """How many requests a ``stall`` behaviour holds unanswered at this moment."""
        with self._lock:
            return self._stalling

    def requests(self, answered_only: bool = False) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.answered or not answered_only]

    def events(self, path: str = "/mp/collect") -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every (request body, event) pair that arrived at ``path``, in arrival order (dropped ones too)."""
        pairs = []
        for request in self.requests():
            if request.path == path and isinstance(request.body, dict):
                pairs += [(request.body, event) for event in request.body.get("events", [])]
        return pairs

    def _next(self) -> Behaviour:
        with self._lock:
            while self._script:
                head = self._script[0]
                if self._left == 0:
                    self._left = head.count
                self._left -= 1
                if self._left == 0:
                    self._script.popleft()
                return head
            return Behaviour("ok")

    # Lifetime --------------------------------------------------------------------------------

    def start(self) -> StandIn:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self._listen())
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="mp-standin", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()

    def _call(self, coro: Any) -> None:
        assert self._loop is not None, "start() first"
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def pause(self) -> None:
        """Go down: stop listening and cut open connections (clients get 'connection refused')."""
        self._call(self._close())

    def resume(self) -> None:
        """Come back on the same port."""
        self._call(self._listen())

    def stop(self) -> None:
        if self._loop is None:
            return
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # HTTP ------------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._exchange(reader, writer):
                pass
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection is to be closed."""
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        keep_alive = headers.get("connection", "").lower() != "close"
        url = urlsplit(target)
        if url.path in ("/mp/collect", "/debug/mp/collect") and method == "POST":
            behaviour = self._next()
            if behaviour.kind == "refuse":
                return False
            if "content-length" not in headers:
                await _answer(writer, 411, b"", keep_alive=False)
                return False
            body = await reader.readexactly(int(headers["content-length"]))
            return await self._collect(writer, url.path, parse_qs(url.query), body, behaviour, keep_alive)
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        status, payload = self._control(method, url.path, body)
        await _answer(writer, status, json.dumps(payload).encode(), keep_alive, content_type="application/json")
        return keep_alive

    async def _collect(
        self,
        writer: asyncio.StreamWriter,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        behaviour: Behaviour,
        keep_alive: bool,
    ) -> bool:
        if behaviour.kind == "stall":
            with self._lock:
                self._stalling += 1
            try:
                await asyncio.sleep(behaviour.seconds)
            finally:
                with self._lock:
                    self._stalling -= 1
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        secret = query.get("api_secret", [""])[0]
        secret_ok = bool(secret) and (not self._secret or hmac.compare_digest(secret, self._secret))
        status = {"fail": behaviour.status, "throttle": 429, "drop": 0}.get(behaviour.kind, 204)
        debug = path.startswith("/debug")
        if debug and status == 204:
            status = 200
        events = len(parsed.get("events", [])) if isinstance(parsed, dict) else 0
        received = Received(time.time(), path, query.get("measurement_id", [""])[0], secret_ok, parsed, status, events)
        with self._lock:
            self.received.append(received)
        if status == 0:
            return False  # read and recorded, never answered
        extra = [("Retry-After", f"{behaviour.seconds:g}")] if status == 429 else []
        answer = b""
        if debug and status == 200:
            answer = json.dumps(validation_response(validate_text(body, now=time.time()))).encode()
        await _answer(writer, status, answer, keep_alive, extra=extra, content_type="application/json")
        return keep_alive

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path == "/_standin/requests" and method == "GET":
            return 200, [asdict(r) for r in self.requests()]
        if path == "/_standin/stats" and method == "GET":
            requests = self.requests()
            return 200, {
                "requests": len(requests),
                "answered_2xx": sum(1 for r in requests if 200 <= r.answered < 300),
                "events": sum(r.events for r in requests if 200 <= r.answered < 300),
            }
        if path == "/_standin/reset" and method == "POST":
            self.reset()
            return 200, {"ok": True}
        if path == "/_standin/script" and method == "POST":
            try:
                self.script(*(Behaviour(**item) for item in json.loads(body)))
            except (ValueError, TypeError) as exc:
                return 400, {"error": str(exc)}
            return 200, {"ok": True}
        return 404, {"error": f"no route {method} {path}"}


async def _answer(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    keep_alive: bool,
    *,
    extra: list[tuple[str, str]] | None = None,
    content_type: str = "text/plain",
) -> None:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"Content-Length: {len(body)}"]
    if body:
        lines.append(f"Content-Type: {content_type}")
    if not keep_alive:
        lines.append("Connection: close")
    lines += [f"{name}: {value}" for name, value in extra or ()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
