"""The HTTP server's limits against raw sockets: a huge header and a slow-loris client are cut off, clicks go on."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import LiveGateway, run_cli, start_gateway

pytestmark = pytest.mark.live

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0", "accept": "text/html"}


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[LiveGateway]:
    gateway = start_gateway(tmp_path / "data", GA4GW_HTTP_READ_TIMEOUT="1")
    yield gateway
    gateway.stop()


def _connect(gw: LiveGateway) -> socket.socket:
    parts = urlsplit(gw.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """What the server sent before closing (b"" when it just closed)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def _tracked(gw: LiveGateway) -> str:
    signed = run_cli("links", "sign", "--campaign", "c1", "--recipient", "sub-1", "https://shop.example/", env=gw.env)
    assert signed.returncode == 0, signed.stderr
    return gw.url + urlsplit(signed.stdout.strip()).path


def test_a_100_mb_header_is_refused_while_clicks_still_redirect(gw: LiveGateway) -> None:
    link = _tracked(gw)
    sock = _connect(gw)
    sent = 0
    stopped: list[BaseException] = []

    def flood() -> None:
        nonlocal sent
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            chunk = b"a" * (1024 * 1024)
            for _ in range(100):
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError as exc:  # the server closed the connection
            stopped.append(exc)

    flooder = threading.Thread(target=flood)
    flooder.start()
    clicks = [httpx.get(link, headers=BROWSER).status_code for _ in range(5)]
    flooder.join(timeout=120)
    assert clicks == [302] * 5
    assert stopped, "the server read the whole 100 MB header"
    assert sent < 100 * 1024 * 1024
    answer = _answer(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")
    sock.close()
    # an ordinary request with a big but acceptable header still works
    assert httpx.get(gw.url + "/healthz", headers={"x-big": "a" * 16_000}).status_code == 200


def test_a_header_just_over_the_limit_in_one_piece_gets_431(gw: LiveGateway) -> None:
    sock = _connect(gw)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
    assert _answer(sock).startswith(b"HTTP/1.1 431 ")
    sock.close()


def test_a_slow_loris_client_is_cut_off_and_clicks_still_redirect(gw: LiveGateway) -> None:
    link = _tracked(gw)
    idle = _connect(gw)  # opens a connection and never sends anything
    loris = _connect(gw)
    loris.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    closed_after = None
    for i in range(100):  # one header byte every 0.1 s: 10 s in all, the read timeout is 1 s
        try:
            loris.sendall(b"X")
        except OSError:
            closed_after = i
            break
        if i % 10 == 0:
            assert httpx.get(link, headers=BROWSER).status_code == 302
        time.sleep(0.1)
        loris.setblocking(False)
        try:
            if loris.recv(65536, socket.MSG_PEEK):
                closed_after = i
                break
        except BlockingIOError:
            pass
        finally:
            loris.setblocking(True)
    assert closed_after is not None, "the server waited for ever for the headers"
    assert _answer(loris).startswith(b"HTTP/1.1 408 ")
    idle.settimeout(30)
    assert _answer(idle).startswith(b"HTTP/1.1 408 ")
    loris.close()
    idle.close()


def _one_response(sock: socket.socket) -> bytes:
    """Read exactly one response: its head, then Content-Length bytes (head and body may come in two packets)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, data
        body += chunk
    assert len(body) == length  # nothing of a second answer: one request, one response
    return head


def test_a_request_in_time_is_served_as_before(gw: LiveGateway) -> None:
    sock = _connect(gw)
    for _ in range(2):  # keep-alive: two requests on one connection, each well inside the timeout
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _one_response(sock).startswith(b"HTTP/1.1 200 ")
    sock.close()


def test_a_body_that_stops_coming_is_cut_off(gw: LiveGateway) -> None:
    token = gw.token("events:write")
    sock = _connect(gw)
    head = (f"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")  # fmt: skip
    sock.sendall(head.encode() + b'{"events": [')
    assert _answer(sock) == b""  # closed by the server (the socket's own timeout is 30 s)
    sock.close()
    assert httpx.get(gw.url + "/healthz").status_code == 200
    assert "Traceback" not in gw.log()
