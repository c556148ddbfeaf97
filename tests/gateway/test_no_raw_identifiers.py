"""No raw email, user id or CRM id is kept by the warehouse or the local stores, or sent to GA4.

Every path that takes an identifier is used once with distinctive raw values; then every column of
every warehouse table (listed from ``system.columns``, so a table added later is scanned too), the
outbox and delivery ledger files, the gateway's log, and every body the MP stand-in received are
searched for them. The sending module's subscriber id is the one identifier kept as given (in
``events.recipient``): it must never reach GA4.

Emails and phone numbers a sender puts inside params (``page_location``'s query, custom params, a
link's destination with a rendered ``*|EMAIL|*`` merge tag) are searched for the same way.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.ga4.standin import StandIn
from tests.conftest import run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import ga4_settings
from tests.gateway.test_consent_live import BROWSER, consent
from tests.gateway.test_identity_live import links, local, sql

pytestmark = pytest.mark.live

EMAIL = "Zelda.Raw-Identifier@Example.com"
USER_ID = "login-raw-8431"
CRM_ID = "crm-raw-5519"
SUBSCRIBER = "subscriber-raw-7070"
PARAM_EMAIL = "Quentin.In-Params@Example.org"  # in page_location's query and a custom param
MP_EMAIL = "mp.page-location@example.net"  # percent-encoded in an MP page_location
LINK_EMAIL = "merge.tag@example.com"  # a destination's ?email= (an ESP merge tag rendered)
PHONE = "+49 151 4242 7319"
IN_PARAMS = (PARAM_EMAIL.lower(), MP_EMAIL, LINK_EMAIL, "4242 7319", "15142427319", "4242-7319")
RAW = (EMAIL.lower(), EMAIL, USER_ID, CRM_ID, *IN_PARAMS)


def test_raw_identifiers_are_never_stored_nor_sent(tmp_path: Path, standin: StandIn) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_PIPELINE_MAX_DELAY="0.2", **ga4_settings(standin))
    try:
        auth = {"authorization": f"Bearer {gw.token('events:write')}"}
        assert consent(
            gw,
            {
                "subject": {"email": EMAIL, "user_id": USER_ID},
                "purposes": dict.fromkeys(("analytics_storage", "ad_user_data"), "granted"),
            },
        ).is_success
        destination = f"https://shop.example/r?email={LINK_EMAIL}&tel=0151-4242-7319"
        made = links(gw, recipient=SUBSCRIBER, email=EMAIL, campaign="raw-scan", urls=[destination])
        click = httpx.get(local(gw, made["links"][0]["tracked"]),
                          headers={**BROWSER, "cookie": "_ga=GA1.1.31337.1700000000"})  # fmt: skip
        assert httpx.get(local(gw, made["pixel"]), headers=BROWSER).status_code == 200
        landing = parse_qs(urlsplit(click.headers["location"]).query)["ga4gw_lt"][0]
        identify = {"landing_token": landing, "client_id": "31337.1700000000", "user_id": USER_ID}
        identified = httpx.post(gw.url + "/v1/identify", json=identify,
                                headers={"authorization": f"Bearer {gw.token('identity:write')}"})  # fmt: skip
        assert identified.status_code == 202
        purchase = {"name": "purchase", "email": EMAIL, "user_id": CRM_ID, "client_id": "31337.1700000000",
                    "params": {"transaction_id": "T-RAW-1", "value": 10, "currency": "EUR",
                               "page_location": f"https://shop.example/thanks?email={PARAM_EMAIL}",
                               "contact": f"Mail {PARAM_EMAIL} or call {PHONE}"}}  # fmt: skip
        assert httpx.post(gw.url + "/v1/events", json={"events": [purchase]}, headers=auth).status_code == 202
        issued = run_cli("ga4", "secret", "issue", "--name", "raw-scan", env=gw.env)
        secret = issued.stdout.strip().split()[-1]
        mp = {"client_id": "4242.1700000000", "user_id": USER_ID, "events": [{"name": "page_view", "params": {
                  "page_location": "https://shop.example/welcome?e=" + MP_EMAIL.replace("@", "%40"),
                  "customer_phone": PHONE}}],
              "user_data": {"sha256_email_address": ["a" * 64]}}  # fmt: skip
        answer = httpx.post(gw.url + "/mp/collect", params={"measurement_id": "G-TEST123", "api_secret": secret},
                            json=mp)  # fmt: skip
        assert answer.status_code == 204, answer.text
        wait_for(lambda: len(standin.events()) >= 5)  # open, click + campaign_details, purchase, page_view
        wait_for(lambda: sql(gw, "SELECT count() FROM ga4_deliveries") != "0")
        time.sleep(0.5)
        columns = sql(gw, "SELECT table, name FROM system.columns WHERE database = currentDatabase() "
                          "AND table NOT LIKE '.inner%' FORMAT JSONCompactEachRow")  # fmt: skip
        tables: dict[str, list[str]] = {}
        for line in columns.splitlines():
            table, column = json.loads(line)
            tables.setdefault(table, []).append(column)
        assert sum(map(len, tables.values())) > 50  # events, edges, consent, deliveries, attribution, views

        def scan(needles: tuple[str, ...]) -> dict[str, str]:
            words = "[" + ",".join(f"'{raw}'" for raw in needles) + "]"
            query = " UNION ALL ".join(
                f"SELECT '{table}', count() FROM `{table}` WHERE multiSearchAnyCaseInsensitive("
                f"concat({', '.join(f'toString(`{c}`)' for c in cols)}, ''), {words})"
                for table, cols in sorted(tables.items())
            )
            counts = dict(line.split("\t") for line in sql(gw, query).splitlines())
            assert set(counts) == set(tables)
            return {table: n for table, n in counts.items() if n != "0"}

        assert scan(RAW) == {}
        assert scan((SUBSCRIBER,)).get("events") == "2"  # the scan finds what is there: the key kept as given
        assert sql(gw, f"SELECT count() FROM events WHERE recipient = '{SUBSCRIBER}'") == "2"  # kept as given
        sent = json.dumps([r.body for r in standin.requests()]).lower()
        for raw in (*RAW, SUBSCRIBER):
            assert raw.lower() not in sent
        # MP user_data goes to GA4 exactly when the 204 did not say it was dropped (ad_user_data), and never to the
        # warehouse whatever the consent.
        assert ("a" * 64 in sent) == ("user_data" not in answer.headers.get("x-ga4gw-dropped", ""))
        assert scan(("a" * 64,)) == {}
        assert "31337.1700000000" in sent  # the scan looked at real traffic
        assert sent.count("em_") >= 3
        assert "ph_" in sent
        assert sql(gw, "SELECT countIf(url LIKE '%email=em\\_%') FROM events") == "2"  # the click and the purchase
        metrics = httpx.get(gw.url + "/metrics").text
        for line in (
            'kind="email",route="events"} 2',
            'kind="phone",route="events"} 1',
            'kind="email",route="mp"} 1',
            'kind="phone",route="mp"} 1',
            'kind="email",route="click"} 1',
            'kind="phone",route="click"} 1',
        ):
            assert f"ga4gw_personal_data_replaced_total{{{line}" in metrics, line
    finally:
        gw.stop()
    local_stores = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("*.sqlite3*"))
    for raw in RAW:
        assert raw.encode() not in local_stores
    log = gw.log().lower()
    for raw in (*RAW, SUBSCRIBER):
        assert raw.lower() not in log
