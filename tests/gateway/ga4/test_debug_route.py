"""The validator as Google's validation server on the gateway, and as ``ga4gw ga4 validate``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveGateway, clean_env, run_cli

pytestmark = pytest.mark.live

VALID = {
    "client_id": "123456789.1700000000",
    "events": [{"name": "email_open", "params": {"session_id": "1", "engagement_time_msec": 1}}],
    "timestamp_micros": int(time.time() * 1e6) - 10_000_000,
}


def test_debug_collect_answers_like_google(live_gateway: LiveGateway) -> None:
    ok = httpx.post(live_gateway.url + "/debug/mp/collect", json=VALID)
    assert ok.status_code == 200
    assert ok.json() == {"validationMessages": []}
    bad = httpx.post(live_gateway.url + "/debug/mp/collect", content=b'{"events": [{"name": "first_visit"}]}')
    codes = {(m["fieldPath"], m["validationCode"]) for m in bad.json()["validationMessages"]}
    assert codes == {("client_id", "VALUE_REQUIRED"), ("events", "NAME_RESERVED")}
    broken = httpx.post(live_gateway.url + "/debug/mp/collect", content=b"\xff not json")
    assert broken.json()["validationMessages"][0]["validationCode"] == "VALUE_INVALID"


def test_cli_validate(tmp_path: Path) -> None:
    env = clean_env(GA4GW_DATA_DIR=str(tmp_path))
    ok = run_cli("ga4", "validate", env=env, stdin=json.dumps(VALID))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"validationMessages": []}
    bad = run_cli(
        "ga4",
        "validate",
        env=env,
        stdin='{"client_id": "x", "events": [], "validation_behavior": "ENFORCE_RECOMMENDATIONS"}',
    )
    assert bad.returncode == 1
    assert {m["validationCode"] for m in json.loads(bad.stdout)["validationMessages"]} == {
        "VALUE_INVALID",
        "VALUE_REQUIRED",
    }
