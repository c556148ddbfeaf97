from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, clean_env, run_cli

# Runs in a child process: this test process already holds another embedded-engine path.
_SEED = """
import sys
from datetime import UTC, datetime, timedelta
from identity import Edge, EdgeStore, Identifier
from warehouse import Warehouse

now = datetime.now(UTC).replace(microsecond=0)
I = Identifier.parse
wh = Warehouse.connect(f"chdb://{sys.argv[1]}/warehouse")
EdgeStore(wh).append([
    Edge(I("recipient:sub-1"), I("email:em_k1_aaaa"), "server_event", now - timedelta(days=3)),
    Edge(I("recipient:sub-1"), I("ga_client:111.222"), "click_ga_cookie", now - timedelta(days=2)),
    Edge(I("ga_client:111.222"), I("user:us_k1_bbbb"), "landing_token", now - timedelta(days=1)),
    Edge(I("recipient:sub-1"), I("device:old"), "mp_ingest", now - timedelta(days=400)),
    *(Edge(I(f"recipient:r{n}"), I("ga_client:9.9"), "click_ga_cookie", now) for n in range(4)),
])
wh.close()
"""


def test_identity_explain_prints_the_person_identifiers_and_edges(tmp_path: Path) -> None:
    env = clean_env(GA4GW_DATA_DIR=str(tmp_path), GA4GW_IDENTITY_EDGE_WINDOW_DAYS="365")
    missing = run_cli("identity", "explain", "email:em_k1_aaaa", env=env)
    assert missing.returncode == 2  # no warehouse there: none is created to answer "no such table"
    assert "ga4gw migrate" in missing.stderr
    assert not (tmp_path / "warehouse").exists()
    assert run_cli("migrate", env=env).returncode == 0
    seeded = subprocess.run([sys.executable, "-c", _SEED, str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert seeded.returncode == 0, seeded.stderr

    result = run_cli("identity", "explain", "email:em_k1_aaaa", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "user_id     us_k1_bbbb" in out
    assert "client_id   111.222" in out
    listed = out.split("identifiers (4):\n")[1].split("edges")[0]
    assert listed.split() == ["email:em_k1_aaaa", "ga_client:111.222", "recipient:sub-1", "user:us_k1_bbbb"]
    assert "landing_token    ga_client:111.222 -- user:us_k1_bbbb  [joined]" in out
    # 400 days old with a 365-day window: shown, but it joined nothing.
    assert "mp_ingest        recipient:sub-1 -- device:old  [older than the window]" in out

    shared = run_cli("identity", "explain", "ga_client:9.9", env=env)
    assert shared.returncode == 0, shared.stderr
    assert "shared, seen with 4 recipient identifiers (bound 3)" in shared.stdout

    nobody = "crm:crm_k1_" + "a" * 26  # a pseudonym: no keys needed to look it up
    unknown = run_cli("identity", "explain", nobody, env=env)
    assert unknown.returncode == 1
    assert f"no edge names {nobody}" in unknown.stderr
    raw = run_cli("identity", "explain", "crm:nobody", env=env)  # a raw value needs the keys, and there are none
    assert raw.returncode == 2
    assert "GA4GW_DATA_DIR" in raw.stderr
    bad = run_cli("identity", "explain", "phone:123", env=env)
    assert bad.returncode == 2
    assert "unknown identifier kind 'phone'" in bad.stderr
