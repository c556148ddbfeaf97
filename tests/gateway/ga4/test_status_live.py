"""``ga4gw ga4 status`` reports the running gateway's relay, not the CLI's own environment (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from gateway.ga4.standin import StandIn
from tests.conftest import clean_env, run_cli, start_gateway
from tests.gateway.ga4.test_relay_live import ga4_settings

pytestmark = pytest.mark.live


def test_a_sending_gateway_is_reported_as_sending_to_its_origin_whatever_the_cli_environment(
    tmp_path: Path, standin: StandIn
) -> None:
    data = tmp_path / "data"
    gw = start_gateway(data, **ga4_settings(standin))
    cli_env = clean_env(GA4GW_DATA_DIR=str(data))  # no measurement id, no secret, the default origin: a dry run
    try:
        text = run_cli("ga4", "status", env=cli_env)
        assert text.returncode == 0, text.stderr
        assert f"mode: sending to {standin.url}" in text.stdout
        assert "DRY RUN" not in text.stdout
        assert f"gateway: running (pid {gw.proc.pid}" in text.stdout
        answer = json.loads(run_cli("ga4", "status", "--json", env=cli_env).stdout)
        assert answer["dry_run"] is False
        assert answer["origin"] == standin.url
        assert answer["measurement_id"] == "G-TEST123"
        assert answer["gateway"] == {"running": True, "pid": gw.proc.pid, "url": gw.url}
        assert "stand-in-secret" not in json.dumps(answer)
        # The route itself: authenticated, its own scope.
        assert httpx.get(gw.url + "/v1/ga4/status").status_code == 401
        other = httpx.get(gw.url + "/v1/ga4/status", headers={"authorization": f"Bearer {gw.token('events:write')}"})
        assert other.status_code == 403
        own = httpx.get(gw.url + "/v1/ga4/status", headers={"authorization": f"Bearer {gw.token('ga4:read')}"})
        assert own.json()["origin"] == standin.url
    finally:
        gw.stop()
    # No gateway any more: the ledger and this command's settings, and it says so.
    text = run_cli("ga4", "status", env=cli_env)
    assert text.returncode == 0, text.stderr
    assert f"gateway: none runs on {data}" in text.stdout
    assert "DRY RUN" in text.stdout
    assert json.loads(run_cli("ga4", "status", "--json", env=cli_env).stdout)["gateway"] == {"running": False}


def test_a_dry_gateway_is_reported_dry_when_the_cli_has_credentials(tmp_path: Path, standin: StandIn) -> None:
    data = tmp_path / "data"
    gw = start_gateway(data, GA4GW_GA4_ORIGIN=standin.url)  # no measurement id or secret: it runs dry
    cli_env = clean_env(GA4GW_DATA_DIR=str(data), **{k: v for k, v in ga4_settings(standin).items()
                                                     if k.startswith("GA4GW_GA4")})  # fmt: skip
    try:
        text = run_cli("ga4", "status", env=cli_env)
        assert text.returncode == 0, text.stderr
        assert "DRY RUN" in text.stdout
        assert "mode: sending" not in text.stdout
        assert json.loads(run_cli("ga4", "status", "--json", env=cli_env).stdout)["dry_run"] is True
    finally:
        gw.stop()
    stopped = run_cli("ga4", "status", env=cli_env).stdout
    assert f"mode: sending to {standin.url}" in stopped  # what a gateway started with the CLI's settings would do
    assert "gateway: none runs" in stopped
