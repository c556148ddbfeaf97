"""Erasure through a real gateway: nothing of the person is left in any table, the outbox, the ledger or memory."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.config.keys import load_keyrings
from gateway.config.settings import load_settings
from gateway.ga4.standin import StandIn
from identity import Pseudonymizer
from tests.conftest import ROOT, LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import HUMAN_UA, ga4_settings

pytestmark = pytest.mark.live

GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
BROWSER = {"user-agent": HUMAN_UA, "accept": "text/html", "accept-language": "en"}
ANN = {"email": "Ann.Erased@Example.com", "recipient": "sub-ann-1", "user": "ann-user-7", "client": "111.1700000000"}
BOB = {"email": "bob@example.com", "recipient": "sub-bob", "client": "222.1700000000"}
BOT = "999.1700000000"  # a client id four recipients clicked with: shared
BOT_USERS = ("sub-bot-1", "sub-bot-2", "sub-bot-3")

# Consent rows go in before the gateway owns the embedded warehouse (the consent API is another issue's).
_CONSENT = """
import sys
from datetime import UTC, datetime
from consent import ConsentEvent, ConsentLedger, Purpose
from gateway.config.keys import load_keyrings
from gateway.config.settings import load_settings
from identity import Pseudonymizer
from warehouse import Warehouse, migrate
settings = load_settings()
p = Pseudonymizer(load_keyrings(settings, generate=True).pseudonym.keys)  # the keys the gateway will use
wh = Warehouse.connect(settings.dsn)
migrate(wh)
now = datetime.now(UTC)
subjects = [p.email(sys.argv[1]), sys.argv[2], p.email(sys.argv[3]), sys.argv[4]]
ConsentLedger(wh).append(ConsentEvent(s, Purpose.AD_STORAGE, True, "api", now, "v1", "", f"c{i}")
                         for i, s in enumerate(subjects))
wh.close()
"""


def _insert_consent(env: dict[str, str]) -> None:
    args = [ANN["email"].lower(), ANN["client"], BOB["email"], BOT]
    done = subprocess.run([sys.executable, "-c", _CONSENT, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _links(gw: LiveGateway, **fields: object) -> dict:
    body = {
        "campaign": "spring-26",
        "sent_at": int(time.time()) - 3600,
        "urls": ["https://shop.example/sale"],
        **fields,
    }
    answer = httpx.post(gw.url + "/v1/links", json=body, headers=_auth(gw, "links:write"))
    assert answer.status_code == 200, answer.text
    return answer.json()


_TOKENS: dict[tuple[str, str], str] = {}


def _auth(gw: LiveGateway, scope: str) -> dict[str, str]:
    key = (gw.url, scope)
    if key not in _TOKENS:
        _TOKENS[key] = gw.token(scope)
    return {"authorization": f"Bearer {_TOKENS[key]}"}


def _local(gw: LiveGateway, url: str) -> str:
    return gw.url + urlsplit(url).path


def _click(gw: LiveGateway, made: dict, client: str = "") -> httpx.Response:
    cookies = {"_ga": f"GA1.1.{client}"} if client else {}
    click = httpx.get(_local(gw, made["links"][0]["tracked"]), headers=BROWSER, cookies=cookies)
    assert click.status_code == 302
    return click


def _events(gw: LiveGateway, *events: dict) -> None:
    answer = httpx.post(gw.url + "/v1/events", json={"events": list(events)}, headers=_auth(gw, "events:write"))
    assert answer.status_code == 202, answer.text


def query(gw: LiveGateway, sql: str) -> str:
    answer = httpx.post(gw.url + "/clickhouse/", content=sql.encode(), headers=_auth(gw, "sql:read"))
    assert answer.status_code == 200, answer.text
    return answer.text.strip()


def everything(gw: LiveGateway) -> dict[str, str]:
    """Every row of every table, each column cast to a string (tables found in system.columns)."""
    columns: dict[str, list[str]] = {}
    listed = query(
        gw,
        "SELECT c.table, c.name FROM system.columns AS c JOIN system.tables AS t "
        "ON t.database = c.database AND t.name = c.table WHERE c.database = currentDatabase() "
        "AND t.engine NOT LIKE '%View%' ORDER BY c.table, c.position",
    )
    for line in listed.splitlines():
        table, column = line.split("\t")
        columns.setdefault(table, []).append(column)
    assert {"events", "identity_edges", "consent_events", "ga4_deliveries", "erasure_audit"} <= set(columns)
    return {
        table: query(
            gw, f"SELECT arrayStringConcat([{', '.join(f'toString(`{c}`)' for c in names)}], '|') FROM `{table}`"
        )
        for table, names in columns.items()
    }


def local_stores(data_dir: Path) -> str:
    """Every row of every table of the outbox and the delivery ledger, as text."""
    text = []
    for name in ("outbox.sqlite3", "ga4_ledger.sqlite3"):
        db = sqlite3.connect(data_dir / name)
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            text += [repr(row) for row in db.execute(f"SELECT * FROM {table}")]
        db.close()
    return "\n".join(text)


def traces(gw: LiveGateway, person: dict[str, str]) -> list[str]:
    """What would betray the person: raw identifiers, every key's pseudonyms, their client id."""
    p = Pseudonymizer(load_keyrings(load_settings(gw.env)).pseudonym.keys)
    found = [v for k, v in person.items() if k != "email"] + [person["email"], person["email"].lower()]
    found += p.candidates("em", person["email"].lower()) + p.candidates("rc", person["recipient"])
    if "user" in person:
        found += p.candidates("us", person["user"])
    return found


@pytest.fixture
def gw(tmp_path: Path, standin: StandIn) -> Iterator[LiveGateway]:
    data = tmp_path / "data"
    data.mkdir()
    env = {"GA4GW_DATA_DIR": str(data), "GA4GW_PIPELINE_MAX_DELAY": "0.2", **ga4_settings(standin)}
    from tests.conftest import clean_env

    _insert_consent(clean_env(**env))
    gateway = start_gateway(data, GA4GW_PIPELINE_MAX_DELAY="0.2", **ga4_settings(standin))
    yield gateway
    gateway.stop()


def _ann_and_others(gw: LiveGateway) -> None:
    """Ann: clicks (her browser and the shared device), an open, /v1/identify, the shop's events; Bob; the bots."""
    ann = _links(gw, recipient=ANN["recipient"])
    landing = parse_qs(urlsplit(_click(gw, ann, ANN["client"]).headers["location"]).query)["ga4gw_lt"][0]
    _click(gw, ann, BOT)
    assert httpx.get(_local(gw, ann["pixel"]), headers={"user-agent": GMAIL_PROXY}).status_code == 200
    answer = httpx.post(
        gw.url + "/v1/identify",
        headers=_auth(gw, "identity:write"),
        json={"landing_token": landing, "client_id": ANN["client"], "user_id": ANN["user"]},
    )
    assert answer.status_code == 202, answer.text
    purchase = {
        "name": "purchase",
        "email": ANN["email"],
        "user_id": ANN["user"],
        "client_id": ANN["client"],
        "params": {"transaction_id": "T-ann-1", "value": 20, "currency": "EUR"},
    }
    _events(gw, purchase, {"name": "page_view", "client_id": BOT, "params": {"page_location": "https://shop.example/"}})
    for bot in BOT_USERS:
        _click(gw, _links(gw, recipient=bot), BOT)
    bob = _links(gw, recipient=BOB["recipient"], email=BOB["email"])
    _click(gw, bob, BOB["client"])
    _events(
        gw,
        {
            "name": "add_to_cart",
            "email": BOB["email"],
            "client_id": BOB["client"],
            "params": {"items": [{"item_id": "SKU-2", "price": 5, "quantity": 1}], "currency": "EUR", "value": 5},
        },
    )


def test_erasure_leaves_nothing_of_the_person_anywhere_and_nobody_else_loses_anything(
    gw: LiveGateway, standin: StandIn
) -> None:
    _ann_and_others(gw)
    wait_for(lambda: query(gw, "SELECT count() FROM ga4_deliveries WHERE state = 'sent'") != "0")
    wait_for(lambda: query(gw, "SELECT count() FROM identity_edges WHERE source = 'landing_token'") == "2")
    # GA4 goes down: the next events wait in the ledger, retrying, and stay in the outbox's reach
    standin.pause()
    ann = _links(gw, recipient=ANN["recipient"])
    _click(gw, ann, ANN["client"])
    _events(
        gw,
        {
            "name": "page_view",
            "user_id": ANN["user"],
            "client_id": ANN["client"],
            "params": {"page_location": "https://shop.example/basket"},
        },
        {"name": "page_view", "client_id": BOB["client"], "params": {"page_location": "https://shop.example/b"}},
    )
    wait_for(lambda: query(gw, "SELECT count() FROM events WHERE event_name = 'page_view'") == "3")
    wait_for(lambda: json.loads(run_cli("ga4", "status", "--json", env=gw.env).stdout)["queued_deliveries"] >= 2)
    ann_traces = traces(gw, ANN)
    before = json.dumps(everything(gw)) + local_stores(gw.data_dir)
    assert all(t in before for t in (ANN["recipient"], ANN["client"], *ann_traces[-3:])), "the setup names Ann"
    bob_before = query(gw, f"SELECT count() FROM events WHERE ga_client_id = '{BOB['client']}'")
    bots_before = query(gw, f"SELECT count() FROM events WHERE ga_client_id = '{BOT}' AND recipient LIKE 'sub-bot-%'")

    auth = _auth(gw, "erasure:write")
    refused = httpx.post(gw.url + "/v1/erasure", headers=auth, json={"identifier": "nope", "reason": 5, "extra": 1})
    assert refused.status_code == 422
    assert set(refused.json()["fields"]) == {"identifier", "reason", "extra"}
    shared = httpx.post(gw.url + "/v1/erasure", headers=auth, json={"identifier": f"ga_client:{BOT}"})
    assert shared.status_code == 422
    assert "shared" in shared.json()["fields"]["identifier"]
    assert (
        httpx.post(gw.url + "/v1/erasure", headers=_auth(gw, "events:write"), json={"email": ANN["email"]}).status_code
        == 403
    )

    answer = httpx.post(
        gw.url + "/v1/erasure", headers=auth, json={"email": ANN["email"], "reason": "art. 17 request #12"}, timeout=120
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["status"] == "done"
    assert result["left"] == {}
    rows = result["rows"]
    assert rows["events"] >= 7
    assert rows["identity_edges"] >= 5
    assert rows["consent_events"] == 2
    assert rows["ga4_deliveries"] >= 1
    assert rows["identity_graph.edges"] == rows["identity_edges"]
    assert rows["ga4_ledger.deliveries"] >= 1
    assert not any(t in answer.text for t in ann_traces)

    left = everything(gw)
    dump = json.dumps(left) + local_stores(gw.data_dir)
    for trace in ann_traces:
        assert trace not in dump, f"{trace!r} is still stored"
    # Nobody else lost anything: Bob, the bots who share a device with Ann, the shared device's consent
    assert query(gw, f"SELECT count() FROM events WHERE ga_client_id = '{BOB['client']}'") == bob_before
    assert query(gw, f"SELECT count() FROM events WHERE ga_client_id = '{BOT}' AND recipient LIKE 'sub-bot-%'") == (
        bots_before
    )
    assert query(gw, f"SELECT count() FROM events WHERE event_name = 'page_view' AND ga_client_id = '{BOT}'") == "1"
    assert query(gw, "SELECT count() FROM identity_edges WHERE b_value = '999.1700000000'") == "3"
    bob_email = traces(gw, BOB)[len(BOB) + 1]
    assert sorted(query(gw, "SELECT subject FROM consent_events").splitlines()) == sorted([BOT, bob_email])
    # The audit row: who, why, how many, and nothing about Ann
    audit = query(gw, "SELECT requested_by, reason, identifiers, rows['events'], status FROM erasure_audit")
    assert audit.split("\t") == [
        "tests",
        "art. 17 request #12",
        str(result["identifiers"]),
        str(rows["events"]),
        "done",
    ]
    assert not any(t in left["erasure_audit"] for t in ann_traces)

    # GA4 comes back: Bob's waiting event arrives, nothing of Ann's does; the graph no longer knows her
    standin.reset()
    standin.resume()
    assert httpx.get(_local(gw, ann["pixel"]), headers={"user-agent": GMAIL_PROXY}).status_code == 200
    wait_for(lambda: {e["name"] for _, e in standin.events()} >= {"page_view", "email_open"})
    sent = json.dumps([r.body for r in standin.requests()])
    assert BOB["client"] in sent
    [open_body] = [b for b, e in standin.events() if e["name"] == "email_open"]
    assert open_body["client_id"] != ANN["client"]
    assert not open_body["user_id"].startswith("us_")
    assert not any(t in json.dumps([b for b, e in standin.events() if e["name"] != "email_open"]) for t in ann_traces)


def test_ga4gw_erase_through_the_running_gateway_and_directly(tmp_path: Path, standin: StandIn) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_PIPELINE_MAX_DELAY="0.2")
    try:
        cara, dan = _links(gw, recipient="sub-cara"), _links(gw, recipient="sub-dan", email="dan@example.com")
        _click(gw, cara, "333.1700000000")
        _click(gw, dan, "444.1700000000")
        _events(
            gw,
            {
                "name": "page_view",
                "email": "dan@example.com",
                "client_id": "444.1700000000",
                "params": {"page_location": "https://shop.example/"},
            },
        )
        wait_for(lambda: query(gw, "SELECT count() FROM events") == "3")
        refused = run_cli("erase", "--identifier", "recipient:sub-cara", env=gw.env)  # no terminal to ask
        assert refused.returncode == 2
        assert "--yes" in refused.stderr
        bad = run_cli("erase", "--identifier", "nope", "--yes", env=gw.env)
        assert bad.returncode == 2
        assert "--identifier (#1)" in bad.stderr
        done = run_cli("erase", "--identifier", "recipient:sub-cara", "--reason", "ticket 7", "--yes", env=gw.env)
        assert done.returncode == 0, done.stderr
        assert "through the gateway" in done.stdout
        assert "sub-cara" not in done.stdout
        assert query(gw, "SELECT count() FROM events WHERE recipient = 'sub-cara'") == "0"
        assert query(gw, "SELECT count() FROM events") == "2"
        assert query(gw, "SELECT requested_by LIKE 'cli:%', reason FROM erasure_audit") == "1\tticket 7"
    finally:
        gw.stop()
    # No gateway now: the command opens the warehouse, the outbox and the ledger itself
    bad = run_cli("erase", "--email", "not-an-email", "--yes", env=gw.env)
    assert bad.returncode == 2
    assert "--email: an email address" in bad.stderr
    assert "not-an-email" not in bad.stderr
    done = run_cli("erase", "--email", "Dan@Example.com", "--yes", env=gw.env)
    assert done.returncode == 0, done.stderr
    assert "directly" in done.stdout
    assert "dan@" not in done.stdout.lower()
    counts = dict(line.split() for line in done.stdout.splitlines()[1:])
    assert counts["events"] == "2"
    assert counts["identity_edges"] == "3"
    left = run_cli("sql", "SELECT (SELECT count() FROM events), (SELECT count() FROM erasure_audit)", env=gw.env)
    assert left.stdout.split() == ["0", "2"]
