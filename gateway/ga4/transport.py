"""A lean HTTP/1.1 keep-alive client for Measurement Protocol POSTs: asyncio streams and h11.

Why not httpx here: the relay sends thousands of small requests a second over a few kept-alive
connections, and httpx's pool spends most of its time re-checking every connection on every
request (a poll() per connection per request); measured, it capped the relay at ~500 requests/s
on one core. This client keeps one connection per request in flight, lets h11 (the HTTP/1.1
state machine httpx itself uses) speak the protocol, and says precisely what a failure means for
a retry:

- ``ambiguous=False``: the body cannot have been taken (no connection, or it broke before the
  whole body was written): a retry cannot duplicate anything;
- ``ambiguous=True``: the whole body went out and no answer came back: GA4 may have counted it.

A kept-alive connection the server closed while it was idle is noticed before it is reused (its
reader has seen the end of the stream) and replaced; a close that races the request is counted as
ambiguous, the safe side.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ssl
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import h11

__all__ = ["Answer", "MPClient", "SendFailed", "retry_after"]

_READ = 65536


class SendFailed(Exception):
    """No answer; ``ambiguous`` when the request may still have arrived."""

    def __init__(self, message: str, *, ambiguous: bool) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(our_role=h11.CLIENT)

    def close(self) -> None:
        self.writer.transport.abort()  # no lingering: a half-done exchange must not be finished later
        self.writer.close()

    async def exchange(self, request: h11.Request, body: bytes, timeout: float) -> Answer:
        written = False
        try:
            self.writer.write(self.h11.send(request) + self.h11.send(h11.Data(data=body)) +
                              self.h11.send(h11.EndOfMessage()))  # fmt: skip
            await asyncio.wait_for(self.writer.drain(), timeout)
            written = True
            return await asyncio.wait_for(self._answer(), timeout)
        except (OSError, EOFError, TimeoutError, h11.ProtocolError) as exc:
            self.close()
            raise SendFailed(f"{type(exc).__name__}: {exc}".rstrip(": "), ambiguous=written) from None
        except asyncio.CancelledError:  # shutting down mid-request: the ledger counts it at the next start
            self.close()
            raise

    async def _answer(self) -> Answer:
        status, headers, chunks = 0, {}, []
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(_READ)
                if not data and not status:
                    raise EOFError("the connection closed without an answer")
                self.h11.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return Answer(status, headers, b"".join(chunks))
            elif isinstance(event, h11.ConnectionClosed):
                raise EOFError("the connection closed in the middle of the answer")

    def reusable(self) -> bool:
        """Ready for the next request (and told so by h11); call once per answer."""
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            return True
        return False

    @property
    def alive(self) -> bool:
        return not (self.reader.at_eof() or self.writer.transport.is_closing())


class MPClient:
    """POSTs JSON bodies to ``{origin}/mp/collect?...`` over at most ``connections`` kept-alive connections."""

    def __init__(self, origin: str, query: dict[str, str], *, connections: int, timeout: float) -> None:
        parts = urlsplit(origin)
        self._host = parts.hostname or ""
        self._tls = parts.scheme == "https"
        self._port = parts.port or (443 if self._tls else 80)
        self._host_header = parts.netloc.rpartition("@")[2]
        self._target = f"{parts.path.rstrip('/')}/mp/collect?{urlencode(query)}".encode()
        self._timeout = timeout
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(connections)
        self._ssl = ssl.create_default_context() if self._tls else None

    async def _open(self) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port, ssl=self._ssl, limit=_READ), self._timeout
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise SendFailed(f"cannot connect: {type(exc).__name__}: {exc}", ambiguous=False) from None
        return _Connection(reader, writer)

    async def post(self, body: bytes) -> Answer:
        """One POST; raises ``SendFailed`` when no answer came back."""
        request = h11.Request(
            method="POST",
            target=self._target,
            headers=[("Host", self._host_header), ("Content-Type", "application/json"),
                     ("Content-Length", str(len(body))), ("User-Agent", "ga4-gateway")],
        )  # fmt: skip
        async with self._slots:
            connection = None
            while self._idle and connection is None:
                candidate = self._idle.pop()
                if candidate.alive:
                    connection = candidate
                else:
                    candidate.close()
            connection = connection or await self._open()
            answer = await connection.exchange(request, body, self._timeout)
            if connection.reusable():
                self._idle.append(connection)
            else:
                connection.close()
            return answer

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
        await asyncio.sleep(0)

    async def __aenter__(self) -> MPClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.close()


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit() or value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
