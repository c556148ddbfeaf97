"""Erasure through a real gateway: no mutation record names the person; a failing step still leaves its audit row."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.ga4.standin import StandIn
from tests.conftest import ROOT, LiveGateway, clean_env, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import ga4_settings
from tests.gateway.test_erasure_live import ANN, _ann_and_others, _auth, _click, _links, gw, query, traces

__all__ = ["gw"]  # the fixture, shared with test_erasure_live

pytestmark = pytest.mark.live

_MUTATIONS = """
import json
from gateway.config.settings import load_settings
from warehouse import Warehouse
wh = Warehouse.connect(load_settings().dsn)
print(json.dumps([list(r) for r in wh.rows("SELECT database, table, command FROM system.mutations")]))
wh.close()
"""

# Before the gateway starts: consent_events becomes a view over the real table, so reading it works and deleting
# from it fails: a real warehouse error half-way through an erasure (after ga4_deliveries, before the events).
_BREAK_CONSENT = """
import sys
from datetime import UTC, datetime
from consent import ConsentEvent, ConsentLedger, Purpose
from gateway.config.settings import load_settings
from warehouse import Warehouse, migrate
wh = Warehouse.connect(load_settings().dsn)
migrate(wh)
ConsentLedger(wh).append([ConsentEvent(sys.argv[1], Purpose.AD_STORAGE, True, "api", datetime.now(UTC), "v1", "", "c")])
wh.command("RENAME TABLE consent_events TO consent_events_store")
# the WHERE is always true; it names the retention so that the gateway's TTL check leaves the view alone
wh.command("CREATE VIEW consent_events AS SELECT * FROM consent_events_store "
           "WHERE toDateTime(event_time) + toIntervalMonth(14) > toDateTime(0)")
wh.close()
"""


def _python(script: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_no_mutation_record_or_file_names_the_erased_person(gw: LiveGateway, standin: StandIn) -> None:
    _ann_and_others(gw)
    wait_for(lambda: query(gw, "SELECT count() FROM identity_edges WHERE source = 'landing_token'") == "2")
    ann_traces = traces(gw, ANN)
    answer = httpx.post(gw.url + "/v1/erasure", headers=_auth(gw, "erasure:write"), json={"email": ANN["email"]},
                        timeout=120)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"]["events"] >= 5
    gw.stop()  # the embedded engine is the gateway's: read what it keeps once it let go
    mutations = json.loads(_python(_MUTATIONS, gw.env))
    assert {table for _, table, _ in mutations} >= {"events", "identity_edges", "consent_events"}
    files = sorted((gw.data_dir / "warehouse").rglob("mutation_*.txt"))
    assert files, "the engine keeps a file per mutation"
    kept = json.dumps(mutations) + "".join(f.read_text(errors="replace") for f in files)
    for trace in ann_traces:
        assert trace not in kept, f"{trace!r} is in a mutation record"
    assert "erasure_keys_" in kept  # the conditions read the key table...
    assert not [t for t in (gw.data_dir / "warehouse").rglob("*") if t.name.startswith("erasure_keys_")]  # gone


@pytest.fixture
def broken(tmp_path: Path, standin: StandIn) -> Iterator[LiveGateway]:
    data = tmp_path / "data"
    data.mkdir()
    _python(_BREAK_CONSENT, clean_env(GA4GW_DATA_DIR=str(data)), ANN["client"])
    gateway = start_gateway(data, GA4GW_PIPELINE_MAX_DELAY="0.2", **ga4_settings(standin))
    yield gateway
    gateway.stop()


def test_a_step_that_fails_still_leaves_its_audit_row(broken: LiveGateway) -> None:
    _click(broken, _links(broken, recipient=ANN["recipient"]), ANN["client"])
    wait_for(lambda: query(broken, "SELECT count() FROM events") == "1")
    answer = httpx.post(
        broken.url + "/v1/erasure",
        headers=_auth(broken, "erasure:write"),
        json={"identifier": f"ga_client:{ANN['client']}", "reason": "ticket 9"},
        timeout=120,
    )
    assert answer.status_code == 503, answer.text
    audit = query(broken, "SELECT erasure_id, requested_by, reason, status, rows FROM erasure_audit")
    erasure_id, who, reason, status, rows = audit.split("\t")
    assert (who, reason, status) == ("tests", "ticket 9", "failed:warehouse.consent_events")
    assert erasure_id.startswith("er_")
    assert answer.json()["fields"] == {"erasure_id": erasure_id}
    assert "consent_events" in answer.json()["detail"]
    assert ANN["client"] not in audit + answer.text
    assert "'ga4_deliveries':" in rows  # what was done before the failure is counted
    assert "consent_events" not in rows
    assert erasure_id in broken.log()  # and logged, with the step
    assert ANN["client"] not in broken.log()


def test_a_reason_with_a_lone_surrogate_never_erases_without_an_audit_row(gw: LiveGateway) -> None:
    _click(gw, _links(gw, recipient=ANN["recipient"]), ANN["client"])
    wait_for(lambda: query(gw, "SELECT count() FROM events") == "1")
    body = '{"identifier": "recipient:' + ANN["recipient"] + '", "reason": "ticket \\ud800 5"}'
    headers = {**_auth(gw, "erasure:write"), "content-type": "application/json"}
    answer = httpx.post(gw.url + "/v1/erasure", content=body.encode(), headers=headers, timeout=120)
    assert answer.status_code in (200, 400, 422), answer.text  # refused at the door, or done and recorded
    audit = query(gw, "SELECT status, reason FROM erasure_audit")
    if answer.status_code == 200:
        assert audit == "done\tticket ? 5"
        assert query(gw, "SELECT count() FROM events") == "0"
    else:
        assert audit == ""
        assert query(gw, "SELECT count() FROM events") == "1"
