"""``ga4gw attribution run`` and ``GET /v1/attribution`` end to end: real processes, the embedded warehouse."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, clean_env, run_cli, start_gateway

# Three journeys written into the data directory's warehouse by a child process (one engine path per process).
_POPULATE = """
import sys
from datetime import timedelta
from decimal import Decimal
from tests.attribution.data import T0, Journey, Touch, insert, journey_events
from warehouse import Warehouse, migrate

wh = Warehouse.connect(sys.argv[1])
migrate(wh)
for journey in (
    Journey("a", (Touch("click", 60, campaign="spring", variant="A"),), revenue=Decimal("30")),
    Journey("b", (Touch("visit", 120, channel="google / cpc"), Touch("click", 60, campaign="spring", variant="B"))),
    Journey("c", (Touch("click", 60, campaign="summer", variant="A"),), revenue=Decimal("10")),
):
    insert(wh, journey_events(journey))
wh.close()
"""


@pytest.mark.live
def test_cli_run_then_report_over_http(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-c", _POPULATE, f"chdb://{data / 'warehouse'}"], check=True, cwd=ROOT, timeout=120)
    env = clean_env(GA4GW_DATA_DIR=str(data))
    result = run_cli("attribution", "run", "--until", "2026-05-01", "--model", "linear", "--model", "markov_1", env=env)
    assert result.returncode == 0, result.stderr
    assert "attributed 3 conversions (4 touches)" in result.stdout
    assert "[" + "#" * 30 + "] 3/3 done" in result.stderr  # the progress bar, one line per step off a terminal

    gw = start_gateway(data)
    try:
        url = gw.url + "/v1/attribution"
        token = gw.token("reports:read")
        bearer = {"Authorization": f"Bearer {token}"}
        answer = httpx.get(url, params={"model": "linear", "group_by": "campaign_variant"}, headers=bearer)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        groups = {(g["campaign_id"], g["variant"]): (g["conversions"], Decimal(g["revenue"])) for g in body["groups"]}
        assert groups == {
            ("spring", "A"): (1.0, Decimal(30)),
            ("spring", "B"): (0.5, Decimal(50)),
            ("", ""): (0.5, Decimal(50)),  # the google / cpc visit has no campaign
            ("summer", "A"): (1.0, Decimal(10)),
        }
        markov = httpx.get(url, params={"model": "markov_1"}, headers=bearer).json()
        assert {g["channel"] for g in markov["groups"]} == {"email", "google / cpc"}
        assert {v["channel"] for v in markov["channel_values"]} == {"email", "google / cpc"}

        assert httpx.get(url).status_code == 401
        other = gw.token("links:write")
        assert httpx.get(url, headers={"Authorization": f"Bearer {other}"}).status_code == 403
        bad = httpx.get(url, params={"model": "u_shaped", "group_by": "x"}, headers=bearer)
        assert bad.status_code == 422
        assert set(bad.json()["fields"]) == {"model", "group_by"}

        through = run_cli(
            "attribution", "run", "--since", "2026-01-01", "--until", "2026-05-01", "--model", "linear", env=env
        )
        assert through.returncode == 0, through.stderr  # issue 15: no longer refused while the gateway runs
        assert f"through the gateway (pid {gw.proc.pid})" in through.stderr
        assert "attributed 3 conversions (4 touches)" in through.stdout
    finally:
        gw.stop()
