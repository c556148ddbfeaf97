"""The whole path through real gateway processes: clicks, the shop's events and MP ingest reach the stand-in."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.ga4.standin import Behaviour, StandIn
from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for

pytestmark = pytest.mark.live

SECRET = "stand-in-secret"
EMAIL = "Ann.Example@Mail.example"
CRM_ID = "crm-000042"
HUMAN_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)


def ga4_settings(standin: StandIn, **extra: str) -> dict[str, Any]:
    return {
        "GA4GW_GA4_MEASUREMENT_ID": "G-TEST123",
        "GA4GW_GA4_API_SECRET": SECRET,
        "GA4GW_GA4_ORIGIN": standin.url,
        "GA4GW_GA4_BATCH_DELAY": "0.1",
        "GA4GW_GA4_MAX_BACKOFF": "0.3",
        "GA4GW_GA4_TIMEOUT": "3",
        # People of an opt-out region: every purpose granted until denied, so GA4 gets whole events.
        # (Unknown regions count as opt-in; tests/gateway/test_consent_live.py covers that default.)
        "GA4GW_CONSENT_DEFAULT_REGION": "US",
        **extra,
    }


@pytest.fixture
def relay_gateway(tmp_path: Path, standin: StandIn) -> Iterator[LiveGateway]:
    gw = start_gateway(tmp_path / "data", **ga4_settings(standin))
    yield gw
    gw.stop()


def status(gw: LiveGateway) -> dict:
    result = run_cli("ga4", "status", "--json", env=gw.env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def sql(gw: LiveGateway, query: str) -> str:
    result = run_cli("sql", query, env=gw.env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def post_events(gw: LiveGateway, events: list[dict], token: str) -> httpx.Response:
    return httpx.post(gw.url + "/v1/events", json={"events": events}, headers={"authorization": f"Bearer {token}"})


def test_a_click_reaches_ga4_as_the_person_with_campaign_data(relay_gateway: LiveGateway, standin: StandIn) -> None:
    gw = relay_gateway
    token = gw.token("links:write")
    made = httpx.post(gw.url + "/v1/links", headers={"authorization": f"Bearer {token}"},
                      json={"campaign": "winter-26", "recipient": "sub-884213", "variant": "B",
                            "sent_at": int(time.time()) - 3600,
                            "urls": ["https://shop.example/sale"]}).json()  # fmt: skip
    tracked = made["links"][0]["tracked"]
    click = httpx.get(gw.url + "/c/" + tracked.rsplit("/", 1)[1], cookies={"_ga": "GA1.1.987654321.1700000000"},
                      headers={"user-agent": HUMAN_UA, "accept": "text/html", "accept-language": "en"})  # fmt: skip
    assert click.status_code == 302
    wait_for(lambda: len(standin.events()) >= 2)
    [(body, event), (_, details)] = standin.events()
    assert body["client_id"] == "987654321.1700000000"  # the shop's real GA client id, from the _ga cookie
    assert body["user_id"].startswith("rc_")
    assert "884213" not in json.dumps(body)
    assert (event["name"], details["name"]) == ("email_click", "campaign_details")
    assert event["params"] == details["params"]
    params = event["params"]
    assert (params["campaign_id"], params["medium"], params["content"]) == ("winter-26", "email", "B-1")
    assert params["session_id"]
    assert params["engagement_time_msec"] > 0
    assert abs(event["timestamp_micros"] / 1e6 - time.time()) < 60
    assert standin.requests()[0].secret_ok
    # the delivery reaches the warehouse too, for analysts
    wait_for(lambda: sql(gw, "SELECT state, event_name, http_status FROM ga4_deliveries FINAL").strip()
             == "sent\temail_click\t204")  # fmt: skip
    assert status(gw)["deliveries"]["sent"] == 1


def test_the_shops_events_are_checked_stored_pseudonymised_relayed_and_purchases_once(
    relay_gateway: LiveGateway, standin: StandIn
) -> None:
    gw = relay_gateway
    token = gw.token("events:write")
    purchase = {
        "name": "purchase",
        "email": EMAIL,
        "user_id": CRM_ID,
        "client_id": "111.222",
        "consent": {"ad_user_data": "granted", "ad_personalization": "denied"},
        "params": {"transaction_id": "T-1001", "value": 59.9, "currency": "EUR",
                   "items": [{"item_id": "SKU-1", "item_name": "Scarf", "price": 29.95, "quantity": 2}]},
    }  # fmt: skip
    first = post_events(gw, [purchase, {"name": "page_view", "client_id": "111.222",
                                        "params": {"page_location": "https://shop.example/"}}], token)  # fmt: skip
    assert first.status_code == 202, first.text
    assert [e["status"] for e in first.json()["events"]] == ["accepted", "accepted"]
    again = post_events(gw, [purchase], token)
    assert again.json()["events"][0]["status"] == "duplicate"
    wait_for(lambda: len(standin.events()) >= 2)
    time.sleep(0.5)
    names = Counter(e["name"] for _, e in standin.events())
    assert names == {"purchase": 1, "page_view": 1}
    body, sent = next((b, e) for b, e in standin.events() if e["name"] == "purchase")
    assert sent["params"]["transaction_id"] == "T-1001"
    assert sent["params"]["value"] == 59.9
    assert sent["params"]["items"][0]["quantity"] == 2
    assert body["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"}
    assert body["client_id"] == "111.222"
    # nothing raw anywhere: not in what GA4 got, not in the warehouse
    everything = json.dumps([r.body for r in standin.requests()])
    assert EMAIL.lower() not in everything.lower()
    assert CRM_ID not in everything
    wait_for(lambda: sql(gw, "SELECT count() FROM events WHERE source = 'server'").strip() == "2")
    dump = sql(gw, "SELECT * FROM events FORMAT JSONEachRow")
    assert EMAIL.lower() not in dump.lower()
    assert CRM_ID not in dump
    assert "em_" in dump
    assert "us_" in dump
    assert sql(gw, "SELECT value, currency, transaction_id FROM events WHERE event_name = 'purchase'").strip() == (
        "59.9\tEUR\tT-1001"
    )


def test_malformed_events_get_a_4xx_naming_each_field_and_nothing_is_stored(relay_gateway: LiveGateway) -> None:
    gw = relay_gateway
    token = gw.token("events:write")
    bad = post_events(gw, [
        {"name": "purchase", "client_id": "111.222", "params": {"value": "12", "currency": "eur"}},
        {"name": "add_to_cart", "params": {}},
        {"name": "refund", "email": "not-an-email", "time": "yesterday"},
        {"name": "view_item", "user_id": "u1", "params": {"items": [{"price": 1}], "_secret": "x"}},
    ], token)  # fmt: skip
    assert bad.status_code == 422
    fields = bad.json()["fields"]
    assert set(fields) >= {
        "events[0].params.value", "events[0].params.currency", "events[0].params.transaction_id",
        "events[1]", "events[1].params.items", "events[2].name", "events[2].email", "events[2].time",
        "events[3].params.items[0].item_id",
    }  # fmt: skip
    reserved = post_events(gw, [{"name": "view_item", "user_id": "u1",
                                 "params": {"items": [{"item_id": "A"}], "google_secret": "x"}}], token)  # fmt: skip
    assert reserved.status_code == 422
    assert "NAME_RESERVED" in reserved.json()["fields"]["events[0].params.google_secret"]
    assert httpx.post(gw.url + "/v1/events", content=b"{oops").status_code == 401
    not_json = httpx.post(gw.url + "/v1/events", content=b"{oops",
                          headers={"authorization": f"Bearer {token}", "content-type": "application/json"})  # fmt: skip
    assert not_json.status_code == 400
    wrong_scope = post_events(gw, [{"name": "page_view", "client_id": "1.2"}], gw.token("links:write"))
    assert wrong_scope.status_code == 403
    time.sleep(1.5)
    assert sql(gw, "SELECT count() FROM events").strip() == "0"


def test_mp_collect_is_a_drop_in_with_issued_secrets(relay_gateway: LiveGateway, standin: StandIn) -> None:
    gw = relay_gateway
    issued = run_cli("ga4", "secret", "issue", "--name", "shop-backend", env=gw.env).stdout.strip()
    body = {"client_id": "555.666", "user_id": CRM_ID, "events": [{"name": "sign_up", "params": {
        "method": "email", "session_id": "1700000000", "engagement_time_msec": 20, "score": 7}}]}  # fmt: skip
    url = gw.url + "/mp/collect"
    ok = httpx.post(url, params={"measurement_id": "G-TEST123", "api_secret": issued}, json=body)
    assert ok.status_code == 204
    assert httpx.post(url, params={"measurement_id": "G-TEST123", "api_secret": issued[:-2] + "xx"},
                      json=body).status_code == 403  # fmt: skip
    assert httpx.post(url, params={"measurement_id": "G-OTHER", "api_secret": issued}, json=body).status_code == 403
    invalid = httpx.post(url, params={"measurement_id": "G-TEST123", "api_secret": issued},
                         json={"client_id": "555.666", "events": [{"name": "session_start"}]})  # fmt: skip
    assert invalid.status_code == 400
    assert invalid.json()["validationMessages"][0]["validationCode"] == "NAME_RESERVED"
    wait_for(lambda: len(standin.events()) >= 1)
    [(sent_body, event)] = standin.events()
    assert event["name"] == "sign_up"
    assert event["params"]["score"] == 7
    assert event["params"]["session_id"] == "1700000000"
    assert sent_body["client_id"] == "555.666"
    assert sent_body["user_id"].startswith("us_")
    assert standin.requests()[0].measurement_id == "G-TEST123"
    assert standin.requests()[0].secret_ok


def test_without_credentials_the_relay_runs_dry(tmp_path: Path, standin: StandIn) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_GA4_ORIGIN=standin.url, GA4GW_GA4_BATCH_DELAY="0.1")
    try:
        token = gw.token("events:write")
        assert post_events(gw, [{"name": "page_view", "client_id": "1.2"}], token).status_code == 202
        wait_for(lambda: status(gw)["queued_deliveries"] == 1)
        text = run_cli("ga4", "status", env=gw.env).stdout
        assert "DRY RUN" in text
        assert "1 requests" in text
        assert httpx.get(gw.url + "/readyz").json()["ga4"]["dry_run"] is True
        time.sleep(0.5)
        assert standin.requests() == []
    finally:
        gw.stop()


def test_kill_9_mid_flight_nothing_lost_and_extra_copies_only_where_counted(tmp_path: Path, standin: StandIn) -> None:
    standin.script(Behaviour("stall", count=1000, seconds=0.8))
    gw = start_gateway(tmp_path / "data", **ga4_settings(standin, GA4GW_GA4_CONCURRENCY="8"))
    token = gw.token("events:write")
    pages: list[dict[str, Any]] = [{"name": "page_view", "client_id": f"{i + 1}.1700000000",
              "params": {"page_location": f"https://shop.example/p/{i}"}} for i in range(40)]  # fmt: skip
    assert post_events(gw, pages, token).status_code == 202
    # some answered, and more held by the stall right now: killed, the gateway leaves requests in flight
    wait_for(lambda: len(standin.requests()) >= 8 and standin.stalling() > 0)
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait()
    (gw.data_dir / "run" / "gateway.json").unlink(missing_ok=True)
    gw2 = start_gateway(tmp_path / "data", **ga4_settings(standin, GA4GW_GA4_CONCURRENCY="8"))
    try:
        wait_for(lambda: status(gw2)["queued_deliveries"] == 0, timeout=60)
        state = status(gw2)
    finally:
        gw2.stop()
    time.sleep(1.0)  # the stalled copies sent by the killed process land too
    assert state["deliveries"]["sent"] == 40
    assert state["possible_duplicates"] >= 1  # requests were in flight when it died
    # every page arrived; the extra copies are no more than the ledger counted as possibly duplicated
    seen = Counter(e["params"]["page_location"] for _, e in standin.events())
    assert set(seen) == {p["params"]["page_location"] for p in pages}
    assert sum(seen.values()) - 40 <= state["possible_duplicates"]
