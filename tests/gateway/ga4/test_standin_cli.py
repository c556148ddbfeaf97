"""The README's way to see what the stand-in received: `ga4gw ga4 standin` says where, /_standin/requests lists it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import httpx

from tests.conftest import ROOT, clean_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_standin_command_tells_where_to_look_and_lists_every_body_it_read() -> None:
    port = _free_port()
    command = [sys.executable, "-m", "gateway", "ga4", "standin", "--port", str(port)]
    proc = subprocess.Popen(
        command, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"GET http://127.0.0.1:{port}/_standin/requests" in banner
        body = {"client_id": "1.2", "user_properties": {"tier": {"value": "gold"}}, "events": [{"name": "x_y"}]}
        url = f"http://127.0.0.1:{port}"
        assert httpx.post(url + "/mp/collect", params={"measurement_id": "G-1", "api_secret": "s"},
                          json=body).status_code == 204  # fmt: skip
        [received] = httpx.get(url + "/_standin/requests").json()
        assert received["body"] == body
        assert received["path"] == "/mp/collect"
        assert received["measurement_id"] == "G-1"
        assert received["answered"] == 204
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
