"""Structured logs: GA4GW_LOG_FORMAT=json gives one JSON object per line, with the request id of the request being
handled, and no personal data or secrets; API routes get access lines, the tracking edge none unless asked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.config.settings import load_settings
from gateway.edge.tracking import EdgeDispatch
from gateway.service.app import create_app
from gateway.telemetry.access import RequestLog, request_id_from
from tests.conftest import ROOT, LiveGateway, clean_env, start_gateway
from tests.gateway.ga4.test_relay_live import HUMAN_UA

pytestmark = pytest.mark.live

EMAIL = "ann.secret-person@example.com"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJlLW9mLWFubg"
API_SECRET = "shop-backend.k1.QWxsIHRoZSBzZWNyZXRzIGhlcmU"
DSN_PASSWORD = "hunter2-warehouse-pw"
NEVER = (EMAIL, JWT, API_SECRET, DSN_PASSWORD, "ann.secret-person")


def records(text: str) -> list[dict]:
    """Every line as JSON: a line that is not one object fails the test."""
    out = []
    for line in text.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= set(record), line
        out.append(record)
    return out


def test_a_logged_error_quoting_an_email_a_jwt_an_api_secret_and_a_dsn_password_shows_none_of_them() -> None:
    program = f"""
import logging
from gateway.telemetry import logs
logs.configure("json", "info")
log = logging.getLogger("gateway.test")
log.warning("client sent %s with token %s", {EMAIL!r}, {JWT!r})
try:
    raise RuntimeError("POST /mp/collect?measurement_id=G-1&api_secret={API_SECRET} to "
                       "http://default:{DSN_PASSWORD}@clickhouse:8123/db failed for {EMAIL}")
except RuntimeError:
    log.exception("the warehouse failed")
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env=clean_env())  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = records(result.stderr)
    assert [r["message"].split(" ")[0] for r in lines] == ["client", "the"]
    assert "exc_info" in lines[1]
    assert "RuntimeError" in lines[1]["exc_info"]
    for secret in NEVER:
        assert secret not in result.stderr
    assert "<email>" in lines[0]["message"]
    assert "<token>" in lines[0]["message"]


@pytest.fixture
def gw(tmp_path: Path) -> LiveGateway:
    # An http warehouse that is not there, named with a password: its connection errors are logged.
    dsn = f"http://default:{DSN_PASSWORD}@127.0.0.1:9/ga4gw"
    return start_gateway(tmp_path / "data", wait_ready=False, GA4GW_LOG_FORMAT="json", GA4GW_WAREHOUSE_DSN=dsn)


def _stopped(gw: LiveGateway) -> list[dict]:
    gw.stop()
    return records(gw.log())


def test_json_lines_carry_the_request_id_and_no_personal_data_or_secrets(gw: LiveGateway) -> None:
    auth = {"authorization": f"Bearer {gw.token('events:write')}"}
    bad_email = httpx.post(gw.url + "/v1/events", headers={**auth, "x-request-id": "shop-req-42"},
                           json={"events": [{"name": "page_view", "email": EMAIL.replace("@", " at ")}]})  # fmt: skip
    assert bad_email.status_code == 422
    assert bad_email.headers["x-request-id"] == "shop-req-42"
    bad_token = httpx.get(gw.url + "/v1/ga4/status", headers={"authorization": f"Bearer {JWT}"})
    assert bad_token.status_code == 401
    token_id = bad_token.headers["x-request-id"]
    mp = httpx.post(gw.url + f"/mp/collect?measurement_id=G-LOGS1&api_secret={API_SECRET}", json={},
                    headers={"x-request-id": JWT})  # fmt: skip
    assert mp.status_code == 403
    assert mp.headers["x-request-id"] != JWT
    consent = httpx.get(gw.url + "/v1/consent", params={"email": EMAIL}, headers={"x-request-id": EMAIL})
    assert consent.status_code == 401
    assert consent.headers["x-request-id"] != EMAIL
    made = httpx.post(gw.url + "/v1/links", json={"campaign": "logs", "recipient": "sub-1", "urls": ["https://shop.example/"]},
                      headers={"authorization": f"Bearer {gw.token('links:write')}"}).json()  # fmt: skip
    httpx.get(gw.url + urlsplit(made["pixel"]).path)
    httpx.get(gw.url + urlsplit(made["links"][0]["tracked"]).path, headers={"user-agent": HUMAN_UA})
    text = gw.log()
    lines = _stopped(gw)
    assert [r for r in lines if r["logger"].startswith(("gateway.stores", "warehouse")) and r["level"] != "INFO"]
    for secret in NEVER:
        assert secret not in text
    access = [r for r in lines if r["logger"] == "ga4gw.access"]
    by_path = {(r["method"], r["path"], r["status"]): r for r in access}
    assert by_path["POST", "/v1/events", 422]["request_id"] == "shop-req-42"
    assert by_path["GET", "/v1/ga4/status", 401]["request_id"] == token_id
    assert by_path["POST", "/mp/collect", 403]["request_id"] == mp.headers["x-request-id"]
    assert all(isinstance(r["duration_ms"], float) for r in access)
    refusals = [
        r for r in lines if r["message"].startswith("authentication failed") and "/v1/ga4/status" in r["message"]
    ]
    assert [r["request_id"] for r in refusals] == [token_id]  # the handler's own line has the request's id
    assert not [r for r in access if r["path"].startswith(("/o/", "/c/"))], "the edge logs nothing unless asked"
    assert not [r for r in lines if r["logger"] == "uvicorn.access"], "uvicorn's access log would repeat ours"


def test_the_edge_gets_access_lines_only_when_asked_without_its_token(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_ACCESS_LOG_EDGE="true")  # text format, the default
    made = httpx.post(gw.url + "/v1/links", json={"campaign": "logs", "recipient": "sub-1", "urls": ["https://shop.example/"]},
                      headers={"authorization": f"Bearer {gw.token('links:write')}"}).json()  # fmt: skip
    pixel = httpx.get(gw.url + urlsplit(made["pixel"]).path)
    gw.stop()
    token = urlsplit(made["pixel"]).path.removeprefix("/o/")
    lines = [line for line in gw.log().splitlines() if " ga4gw.access: " in line]
    opened = [line for line in lines if "GET /o/<token> 200" in line]
    assert len(opened) == 1
    assert f"[request {pixel.headers['x-request-id']}]" in opened[0]
    assert token.partition(".")[0] not in gw.log()


@pytest.mark.parametrize(
    ("given", "kept"),
    [("shop-req-42", True), ("0f1e2d3c-aaaa-bbbb-cccc-123456789abc", True), (EMAIL, False), (JWT, False),
     ("a" * 65, False), ("x y", False), ("", False), ("api_secret=abc", False)],
)  # fmt: skip
def test_a_request_id_from_the_client_is_kept_only_when_well_formed(given: str, kept: bool) -> None:
    assert (request_id_from(given) == given) is kept
    assert len(request_id_from(given)) <= 64


@pytest.mark.parametrize("edge_lines", [False, True])
def test_opens_and_clicks_pass_the_request_log_only_when_their_lines_are_asked_for(
    tmp_path: Path, edge_lines: bool
) -> None:
    """The edge's hot path: by default /o/ and /c/ are answered by the edge's dispatch before the request log."""
    settings = load_settings({"GA4GW_DATA_DIR": str(tmp_path), "GA4GW_ACCESS_LOG_EDGE": str(edge_lines).lower()})
    order: list[object] = [m.cls for m in create_app(settings).user_middleware]
    assert (order.index(RequestLog) < order.index(EdgeDispatch)) is edge_lines
