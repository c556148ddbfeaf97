"""Consent in the running gateway: recorded by the API, obeyed at the edge and at the GA4 egress."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from gateway.ga4.standin import StandIn
from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import HUMAN_UA, ga4_settings
from tests.gateway.test_identity_live import links, local, sql

pytestmark = pytest.mark.live

BROWSER = {"user-agent": HUMAN_UA, "accept": "text/html", "accept-language": "en"}


def consent(gw: LiveGateway, body: dict[str, Any], scope: str = "consent:write") -> httpx.Response:
    return httpx.post(gw.url + "/v1/consent", json=body, headers={"authorization": f"Bearer {gw.token(scope)}"})


def decisions(gw: LiveGateway, **query: str) -> dict[str, Any]:
    answer = httpx.get(gw.url + "/v1/consent", params=query,
                       headers={"authorization": f"Bearer {gw.token('consent:read')}"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


def click(gw: LiveGateway, tracked: str, cookie: str = "") -> httpx.Response:
    headers = {**BROWSER, **({"cookie": cookie} if cookie else {})}
    answer = httpx.get(local(gw, tracked), headers=headers)
    assert answer.status_code == 302
    return answer


def arrived(standin: StandIn, campaign: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(b, e) for b, e in standin.events() if e.get("params", {}).get("campaign_id") == campaign]


@pytest.fixture
def gw(tmp_path: Path, standin: StandIn) -> Iterator[LiveGateway]:
    # No region setting: an unknown region counts as opt-in (the EEA's rule), the default of a fresh install.
    settings = {**ga4_settings(standin), "GA4GW_CONSENT_DEFAULT_REGION": ""}
    gateway = start_gateway(tmp_path / "data", GA4GW_PIPELINE_MAX_DELAY="0.2", **settings)
    yield gateway
    gateway.stop()


def test_a_bad_decision_is_refused_with_every_wrong_field_named_and_nothing_stored(gw: LiveGateway) -> None:
    assert httpx.post(gw.url + "/v1/consent", json={}).status_code == 401
    assert consent(gw, {"subject": {"email": "a@b.example"}, "unsubscribe": True}, "events:write").status_code == 403
    bad = consent(gw, {"consents": [
        {"subject": {"email": "not-an-email", "phone": "1"},
         "purposes": {"email_tracking": "yes", "cookies": "granted"}},
        {"subject": {"client_id": "123"}, "tcf": "not a TC string"},
        {"subject": {"subscriber": "s-1"}, "unsubscribe": "please", "time": "yesterday"},
        {"subject": {"user_id": "u-1"}},
    ]})  # fmt: skip
    assert bad.status_code == 422
    assert set(bad.json()["fields"]) == {
        "consents[0].subject.email", "consents[0].subject.phone", "consents[0].purposes.email_tracking",
        "consents[0].purposes.cookies", "consents[1].subject.client_id", "consents[1].tcf",
        "consents[2].unsubscribe", "consents[2].time", "consents[3]",
    }  # fmt: skip
    time.sleep(0.5)
    assert sql(gw, "SELECT count() FROM events WHERE source = 'consent'") == "0"


def test_an_unsubscribed_recipient_is_counted_anonymously_and_reaches_the_shop(
    gw: LiveGateway, standin: StandIn
) -> None:
    made = links(gw, recipient="sub-77", email="Ann@Example.com", campaign="c-unsub",
                 urls=["https://shop.example/sale"])  # fmt: skip
    assert consent(gw, {"subject": {"email": " ann@example.com "}, "unsubscribe": True}).status_code == 202
    answer = click(gw, made["links"][0]["tracked"], cookie="_ga=GA1.1.424242.1700000000")
    location = urlsplit(answer.headers["location"])
    assert location.netloc == "shop.example"
    landing = parse_qs(location.query)["ga4gw_lt"][0]
    claims = jwt.decode(landing, options={"verify_signature": False})
    assert claims["rcp"] == ""  # the landing token names nobody: /v1/identify cannot join the person
    assert httpx.get(local(gw, made["pixel"]), headers=BROWSER).status_code == 200
    wait_for(lambda: sql(gw, "SELECT count() FROM events WHERE campaign_id = 'c-unsub'") == "2")
    rows = sql(
        gw,
        "SELECT recipient, ga_client_id, ip_truncated, user_agent, params['mode'], "
        "consent['email_tracking'] FROM events WHERE campaign_id = 'c-unsub' FORMAT JSONCompactEachRow",
    )
    anonymous = ["", "", "", "", "a", "denied"]  # mode "a": anonymous
    assert [json.loads(line) for line in rows.splitlines()] == [anonymous] * 2
    assert "sub-77" not in sql(gw, "SELECT * FROM events FORMAT JSONEachRow")
    state = decisions(gw, email="ann@example.com")
    assert state["purposes"]["email_tracking"]["granted"] is False
    assert state["purposes"]["email_tracking"]["source"] == "unsubscribe"
    time.sleep(0.5)
    assert arrived(standin, "c-unsub") == []  # anonymous hits never reach GA4


def test_without_analytics_consent_ga4_gets_nothing_that_identifies_the_person(
    gw: LiveGateway, standin: StandIn
) -> None:
    made = links(gw, recipient="sub-88", campaign="c-anon", urls=["https://shop.example/a"])
    click(gw, made["links"][0]["tracked"], cookie="_ga=GA1.1.8888.1700000000")
    wait_for(lambda: len(arrived(standin, "c-anon")) == 2)
    bodies = [b for b, _ in arrived(standin, "c-anon")]
    assert all("user_id" not in b and b["client_id"] != "8888.1700000000" for b in bodies)
    assert all(b["consent"] == {"ad_user_data": "DENIED", "ad_personalization": "DENIED"} for b in bodies)
    # The warehouse still has the personal click: email_tracking was granted by the personal link.
    assert sql(gw, "SELECT recipient FROM events WHERE campaign_id = 'c-anon'") == "sub-88"
    granted = consent(gw, {"subject": {"subscriber": "sub-88"}, "policy_version": "v7",
                           "purposes": {"analytics_storage": "granted", "ad_user_data": "granted"}})  # fmt: skip
    assert granted.status_code == 202, granted.text
    second = links(gw, recipient="sub-88", campaign="c-named", urls=["https://shop.example/b"])
    click(gw, second["links"][0]["tracked"], cookie="_ga=GA1.1.8888.1700000000")
    wait_for(lambda: len(arrived(standin, "c-named")) == 2)
    body, _ = arrived(standin, "c-named")[0]
    assert body["client_id"] == "8888.1700000000"
    assert body["user_id"].startswith("rc_")
    assert body["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"}
    wait_for(lambda: sql(gw, "SELECT count() FROM consent_events WHERE policy_version = 'v7'") == "2")


def test_a_withdrawal_after_the_click_wins_over_the_queued_request(gw: LiveGateway, standin: StandIn) -> None:
    consent(gw, {"subject": {"subscriber": "sub-99"}, "purposes": {"analytics_storage": "granted"}})
    standin.pause()  # GA4 is away: the click waits in the delivery ledger, already built with the person
    made = links(gw, recipient="sub-99", campaign="c-late", urls=["https://shop.example/c"])
    click(gw, made["links"][0]["tracked"])
    wait_for(lambda: sql(gw, "SELECT count() FROM events WHERE campaign_id = 'c-late'") == "1")
    # the relay has taken it into the delivery ledger (after the settling window), built with the person
    wait_for(lambda: "ga4gw_ga4_queued_requests 1" in httpx.get(gw.url + "/metrics").text, timeout=30)
    assert consent(gw, {"subject": {"subscriber": "sub-99"}, "purposes": {"analytics_storage": "denied"}}).is_success
    standin.resume()
    other = links(gw, recipient="sub-100", campaign="c-after", urls=["https://shop.example/d"])
    click(gw, other["links"][0]["tracked"])
    wait_for(lambda: len(arrived(standin, "c-after")) == 2)  # later work went through: the queue drained
    assert arrived(standin, "c-late") == []
    # c-late's request is retrying after GA4's absence; its next try finds the withdrawal and drops it
    withdrawn = 'ga4gw_ga4_events_total{outcome="skipped",reason="consent_withdrawn"} 1'
    wait_for(lambda: withdrawn in httpx.get(gw.url + "/metrics").text)
    assert arrived(standin, "c-late") == []


def test_the_mp_consent_field_is_a_decision_in_the_ledger(gw: LiveGateway) -> None:
    issued = run_cli("ga4", "secret", "issue", "--name", "shop-backend", env=gw.env)
    assert issued.returncode == 0, issued.stderr
    secret = issued.stdout.strip().split()[-1]
    body = {"client_id": "5555.1700000000", "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
            "user_location": {"country_id": "FR"}, "events": [{"name": "page_view", "params": {}}]}  # fmt: skip
    answer = httpx.post(gw.url + "/mp/collect", params={"measurement_id": "G-TEST123", "api_secret": secret},
                        json=body)  # fmt: skip
    assert answer.status_code == 204, answer.text
    state = decisions(gw, client_id="5555.1700000000", region="FR")
    assert state["purposes"]["ad_user_data"] == {"granted": True, "reason": "explicit", "rule": "opt_in",
                                                 "source": "mp", "at": state["purposes"]["ad_user_data"]["at"],
                                                 "policy_version": ""}  # fmt: skip
    assert state["purposes"]["ad_personalization"]["granted"] is False
    wait_for(lambda: sql(gw, "SELECT count() FROM consent_events WHERE subject = '5555.1700000000'") == "2")


def test_decisions_survive_a_restart(tmp_path: Path, standin: StandIn) -> None:
    data = tmp_path / "data"
    # A long pipeline delay: the decision is still only in the outbox when the gateway stops hard.
    first = start_gateway(data, GA4GW_PIPELINE_MAX_DELAY="600", **ga4_settings(standin))
    assert consent(first, {"subject": {"email": "bo@example.com"}, "unsubscribe": True}).status_code == 202
    first.proc.kill()
    first.proc.wait()
    (data / "run" / "gateway.json").unlink()  # a killed gateway leaves its run file (start_gateway waits on it)
    second = start_gateway(data, **ga4_settings(standin))
    try:
        wait_for(lambda: decisions(second, email="bo@example.com")["loaded"])
        state = decisions(second, email="bo@example.com")["purposes"]["email_tracking"]
        assert (state["granted"], state["source"]) == (False, "unsubscribe")
    finally:
        second.stop()


def test_the_cdn_country_header_and_the_drop_settings(tmp_path: Path, standin: StandIn) -> None:
    settings = {**ga4_settings(standin), "GA4GW_CONSENT_DEFAULT_REGION": "",
                "GA4GW_CONSENT_REGION_HEADER": "CF-IPCountry", "GA4GW_CONSENT_UNTRACKED": "drop",
                "GA4GW_CONSENT_ANALYTICS_DENIED": "drop"}  # fmt: skip
    gw = start_gateway(tmp_path / "data", GA4GW_PIPELINE_MAX_DELAY="0.2", **settings)
    try:
        assert consent(gw, {"subject": {"subscriber": "s-gone"}, "unsubscribe": True}).status_code == 202
        gone = links(gw, recipient="s-gone", campaign="c-gone", urls=["https://shop.example/g"])
        assert urlsplit(click(gw, gone["links"][0]["tracked"]).headers["location"]).netloc == "shop.example"
        unknown = links(gw, recipient="s-eu", campaign="c-unknown", urls=["https://shop.example/u"])
        click(gw, unknown["links"][0]["tracked"])  # no country: opt-in, analytics denied: nothing goes to GA4
        us = links(gw, recipient="s-us", campaign="c-us", urls=["https://shop.example/us"])
        answer = httpx.get(local(gw, us["links"][0]["tracked"]), headers={**BROWSER, "cf-ipcountry": "US"})
        assert answer.status_code == 302
        wait_for(lambda: len(arrived(standin, "c-us")) == 2)
        assert all(b["user_id"].startswith("rc_") for b, _ in arrived(standin, "c-us"))
        query = "SELECT campaign_id, consent['region'] FROM events WHERE source = 'click' ORDER BY 1 FORMAT CSV"
        counts = sql(gw, query)
        assert counts.splitlines() == ['"c-unknown",""', '"c-us","US"']  # the unsubscribed click: not recorded
        assert arrived(standin, "c-unknown") == []
        metrics = httpx.get(gw.url + "/metrics").text
        assert 'ga4gw_hits_untracked_total{how="dropped",kind="click"} 1' in metrics
        assert 'reason="consent_analytics_storage"} 1' in metrics
    finally:
        gw.stop()
