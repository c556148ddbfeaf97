"""Issue 15, item 5: ``ga4gw import events FILE``, into the warehouse directly or through a running gateway.

A shop loads a year of orders and sessions and gets attribution on day one: every line checked like
``/v1/events``, a bad line named by number and field with nothing stored, identifiers pseudonymised, the same
file imported twice stored once, and nothing of it relayed to GA4.
"""

from __future__ import annotations

import csv
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.api.ingest import server_row
from gateway.ga4.payloads import PayloadBuilder, Skip
from tests.conftest import LiveGateway, clean_env, configured_keys, run_cli
from tests.gateway.ga4.conftest import PSEUDONYMS, granting

pytestmark = pytest.mark.live

EMAIL = "Ann.Example@Mail.example"
CRM_ID = "crm-000042"
DAY = timedelta(days=1)


def history(start: datetime) -> list[dict[str, Any]]:
    """Two people's visits and orders, months old: one by email (and user id), one by client id alone. (Joining a
    visit by client id to a purchase by email is the identity graph's part of issue 15, not this file's.)"""
    at = lambda d, h=0: (start + d * DAY + timedelta(hours=h)).isoformat().replace("+00:00", "Z")  # noqa: E731
    return [
        {"name": "page_view", "client_id": "111.222", "email": EMAIL, "time": at(0),
         "traffic": {"source": "google", "medium": "cpc"}, "params": {"page_location": "https://shop.example/"}},
        {"name": "purchase", "client_id": "111.222", "email": EMAIL, "user_id": CRM_ID, "time": at(0, 2),
         "params": {"transaction_id": "T-2001", "value": 80.5, "currency": "EUR"}},
        {"name": "page_view", "client_id": "333.444", "time": at(40),
         "traffic": {"source": "newsletter", "medium": "referral"}},
        {"name": "purchase", "event_id": "order-2002", "client_id": "333.444", "time": at(41),
         "params": {"transaction_id": "T-2002", "value": 12, "currency": "EUR"}},
    ]  # fmt: skip


def write_ndjson(path: Path, events: list[Any]) -> Path:
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events), encoding="utf-8")
    return path


def write_csv(path: Path, events: list[dict[str, Any]]) -> Path:
    columns = ["name", "event_id", "time", "client_id", "email", "user_id", "traffic.source", "traffic.medium",
               "params.page_location", "params.transaction_id", "params.value", "params.currency"]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, columns)
        writer.writeheader()
        for event in events:
            flat = {k: v for k, v in event.items() if not isinstance(v, dict)}
            for block in ("traffic", "params"):
                flat.update({f"{block}.{k}": v for k, v in event.get(block, {}).items()})
            writer.writerow(flat)
    return path


def sql(env: dict[str, str], query: str) -> str:
    result = run_cli("sql", query, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_without_a_gateway_ndjson_and_csv_import_once_pseudonymised_and_bad_lines_store_nothing(
    tmp_path: Path,
) -> None:
    # Keys configured, as no gateway ever ran on this directory to generate them (only `ga4gw serve` does).
    env = clean_env(GA4GW_DATA_DIR=str(tmp_path / "data"), **configured_keys())
    assert run_cli("migrate", env=env).returncode == 0
    events = history(datetime.now(UTC) - timedelta(days=300))
    bad = write_ndjson(tmp_path / "bad.ndjson", [*events[:2], {**events[2], "time": "2099-01-01T00:00:00Z"},
                                                 "{not json", {**events[3], "params": {"value": 1}}])  # fmt: skip
    refused = run_cli("import", "events", str(bad), env=env)
    assert refused.returncode == 1
    assert "line 3: time: is in the future" in refused.stderr
    assert "line 4: (the line): not a JSON object" in refused.stderr
    assert "line 5: params.transaction_id:" in refused.stderr
    assert "3 bad line(s) of 5; nothing was stored" in refused.stderr
    assert sql(env, "SELECT count() FROM events") == "0"

    good = write_ndjson(tmp_path / "history.ndjson", events)
    first = run_cli("import", "events", str(good), env=env)
    assert first.returncode == 0, first.stderr
    assert "imported 4 events from 4 lines" in first.stdout
    assert "] 100/100 done" in first.stderr  # the progress bar, one line per step off a terminal
    again = run_cli("import", "events", str(good), env=env)
    assert again.returncode == 0, again.stderr
    as_csv = run_cli("import", "events", str(write_csv(tmp_path / "history.csv", events)), env=env)
    assert as_csv.returncode == 0, as_csv.stderr
    assert "imported 4 events from 4 lines" in as_csv.stdout
    assert sql(env, "SELECT count(), uniqExact(event_id), countIf(source = 'import') FROM events") == "4\t4\t4"
    assert sql(env, "SELECT event_id FROM events WHERE transaction_id = 'T-2002'") == "import-order-2002"
    purchase = sql(
        env, "SELECT toUnixTimestamp(event_time), value, user_id FROM events WHERE transaction_id = 'T-2001'"
    )
    when, value, user = purchase.split("\t")
    assert int(when) == int(datetime.fromisoformat(events[1]["time"].replace("Z", "+00:00")).timestamp())
    assert value == "80.5"
    assert user.startswith("us_")
    dump = sql(env, "SELECT * FROM events FORMAT JSONEachRow") + sql(
        env, "SELECT * FROM identity_edges FORMAT JSONEachRow"
    )
    assert EMAIL.lower() not in dump.lower()
    assert CRM_ID not in dump
    assert "em_" in dump
    assert sql(env, "SELECT count() > 0 FROM identity_edges WHERE a_value = '111.222' OR b_value = '111.222'") == "1"


def test_through_a_running_gateway_imported_history_is_attributed_and_never_relayed(live_gateway: LiveGateway) -> None:
    gw = live_gateway
    data = gw.data_dir
    events = history(datetime.now(UTC) - timedelta(days=200))
    bad = write_ndjson(data.parent / "bad.ndjson", [events[0], {**events[1], "time": "1999-06-01T00:00:00Z"}])
    refused = run_cli("import", "events", str(bad), env=gw.env)
    assert refused.returncode == 1
    assert f"through the gateway (pid {gw.proc.pid})" in refused.stderr
    assert "line 2: time: must be in 2000 or later" in refused.stderr
    good = write_ndjson(data.parent / "history.ndjson", events)
    imported = run_cli("import", "events", str(good), env=gw.env)
    assert imported.returncode == 0, imported.stderr
    assert "imported 4 events from 4 lines" in imported.stdout
    assert run_cli("import", "events", str(good), env=gw.env).returncode == 0
    assert sql(gw.env, "SELECT count(), countIf(source = 'import') FROM events") == "4\t4"
    # nothing went to the outbox, so nothing to GA4: the relay's ledger holds no delivery and no dead letter
    status = json.loads(run_cli("ga4", "status", "--json", env=gw.env).stdout)
    assert status["queued_deliveries"] == 0
    assert status["dead_letters"] == {}
    run = run_cli("attribution", "run", "--model", "last_touch", env=gw.env)
    assert run.returncode == 0, run.stderr
    assert "attributed 2 conversions" in run.stdout
    report = httpx.get(gw.url + "/v1/attribution", params={"model": "last_touch"},
                       headers={"authorization": f"Bearer {gw.token('reports:read')}"}).json()  # fmt: skip
    assert {g["channel"]: g["conversions"] for g in report["groups"]} == {"google / cpc": 1.0,
                                                                         "newsletter / referral": 1.0}  # fmt: skip


def test_the_import_route_needs_its_scope_and_a_known_format(live_gateway: LiveGateway) -> None:
    gw = live_gateway
    url = gw.url + "/v1/events/import"
    body = json.dumps(history(datetime.now(UTC) - timedelta(days=10))[0]).encode() + b"\n"
    ndjson = {"content-type": "application/x-ndjson"}
    assert httpx.post(url, content=body, headers=ndjson).status_code == 401
    writer = {"authorization": f"Bearer {gw.token('events:write')}"}
    assert httpx.post(url, content=body, headers={**ndjson, **writer}).status_code == 403
    importer = {"authorization": f"Bearer {gw.token('events:import')}"}
    assert httpx.post(url, content=body, headers={**importer, "content-type": "text/plain"}).status_code == 415
    no_time = httpx.post(url, content=b'{"name": "page_view", "client_id": "1.2"}\n', headers={**importer, **ndjson})
    assert no_time.status_code == 422
    assert set(no_time.json()["fields"]) == {"line 1.time"}
    ok = httpx.post(url, content=body, headers={**importer, **ndjson})
    assert ok.status_code == 200, ok.text
    assert ok.json()["stored"] == 1
    time.sleep(0.2)


def test_the_relay_skips_imported_rows() -> None:
    event = history(datetime.now(UTC))[1]
    row = server_row(event, time.time() - 3600, PSEUDONYMS, "import", time.time())
    builder = PayloadBuilder(PSEUDONYMS, consent=granting())
    assert builder.build(row) == Skip(row.event_id, "imported")
