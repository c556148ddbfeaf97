"""Attribution over what the running gateway stored: people joined by the identity graph, direct visits.

The gateway takes a click, the shop's events and an identification over HTTP; it is stopped and
``ga4gw attribution run`` builds the journeys from the same data directory (the embedded engine has one owner).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.ga4.standin import StandIn
from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import HUMAN_UA, ga4_settings
from tests.gateway.test_identity_live import links, local, sql

pytestmark = pytest.mark.live

_BROWSER = {"user-agent": HUMAN_UA, "accept": "text/html", "accept-language": "en"}


@pytest.fixture
def gw(tmp_path: Path, standin: StandIn) -> Iterator[LiveGateway]:
    gateway = start_gateway(tmp_path / "data", GA4GW_PIPELINE_MAX_DELAY="0.2", **ga4_settings(standin))
    yield gateway
    gateway.stop()


def _post(gw: LiveGateway, route: str, scope: str, body: dict[str, Any]) -> httpx.Response:
    answer = httpx.post(gw.url + route, json=body, headers={"authorization": f"Bearer {gw.token(scope)}"})
    assert answer.status_code == 202, answer.text
    return answer


def _events(gw: LiveGateway, *events: dict[str, Any]) -> None:
    _post(gw, "/v1/events", "events:write", {"events": list(events)})
    time.sleep(0.01)  # the next event is later: touches are ordered by time


def _run(gw: LiveGateway, stored: int, *models: str) -> None:
    """Wait until the pipeline stored ``stored`` events, stop the gateway, run attribution."""
    wait_for(lambda: sql(gw, "SELECT count() FROM events") == str(stored))
    gw.stop()
    result = run_cli("attribution", "run", *(a for m in models for a in ("--model", m)), env=gw.env)
    assert result.returncode == 0, result.stderr


def _rows(gw: LiveGateway, query: str) -> list[dict[str, Any]]:
    result = run_cli("sql", query, "--format", "JSONEachRow", env=gw.env)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


# A link is signed for the sender's subscriber key, or for an email alone (its pseudonym is then the recipient).
@pytest.mark.parametrize("signed_for", [{"recipient": "sub-1501"}, {"email": "ann.1501@example.com"}],
                         ids=["subscriber key", "email alone"])  # fmt: skip
@pytest.mark.parametrize("identified", ["before the purchase", "after the purchase"])
def test_an_identified_click_is_in_the_path_of_the_purchase_made_under_the_sites_client_id(
    gw: LiveGateway, identified: str, signed_for: dict[str, str]
) -> None:
    made = links(gw, **signed_for, urls=["https://shop.example/sale"])
    click = httpx.get(local(gw, made["links"][0]["tracked"]), headers=_BROWSER)  # no _ga cookie on the mail app
    landing = parse_qs(urlsplit(click.headers["location"]).query)["ga4gw_lt"][0]
    time.sleep(0.01)
    client = "1501.1700000000"
    _events(gw, {"name": "session_start", "client_id": client, "traffic": {"source": "google", "medium": "cpc"}})
    purchase = {"name": "purchase", "client_id": client, "event_id": "order-1501",
                "params": {"transaction_id": "T-1501", "value": 80, "currency": "EUR"}}  # fmt: skip
    identify = {"landing_token": landing, "client_id": client}
    if identified == "before the purchase":
        _post(gw, "/v1/identify", "identity:write", identify)
        _events(gw, purchase)
    else:  # the graph learns who the client id is only once the purchase is stored
        _events(gw, purchase)
        wait_for(lambda: sql(gw, "SELECT count() FROM events WHERE event_name = 'purchase'") == "1")
        _post(gw, "/v1/identify", "identity:write", identify)
    _run(gw, 4, "last_touch", "linear")
    [journey] = _rows(gw, "SELECT path, default_path, kinds FROM attribution_paths WHERE converted = 1")
    assert journey == {"path": "email > google / cpc", "default_path": "Email > Paid Search",
                       "kinds": ["click", "visit"]}  # fmt: skip
    linear = _rows(gw, "SELECT channel, credit FROM attribution_credits WHERE model = 'linear' ORDER BY channel")
    assert linear == [{"channel": "email", "credit": 0.5}, {"channel": "google / cpc", "credit": 0.5}]
    # No journey of the click alone: the click and the purchase are one person.
    assert _rows(gw, "SELECT count() AS n FROM attribution_paths") == [{"n": 1}]
    # Every event names its person at ingest; the run's person table was emptied again.
    assert _rows(gw, "SELECT countIf(person_id = '') AS unnamed FROM events") == [{"unnamed": 0}]
    assert _rows(gw, "SELECT count() AS n FROM attribution_people") == [{"n": 0}]


def test_a_visit_without_a_source_is_direct_and_last_non_direct_passes_over_it(
    gw: LiveGateway, standin: StandIn
) -> None:
    ann, ben = "2001.1700000000", "2002.1700000000"
    _events(gw, {"name": "session_start", "client_id": ann, "session_id": "s1",
                 "traffic": {"source": "google", "medium": "cpc"}})  # fmt: skip
    _events(gw, {"name": "session_start", "client_id": ann, "session_id": "s2"})  # typed the shop's address
    _events(gw, {"name": "page_view", "client_id": ann, "session_id": "s2"})  # a page of that session
    _events(gw, {"name": "purchase", "client_id": ann, "params": {"transaction_id": "T-2001", "value": 50,
                                                                  "currency": "EUR"}})  # fmt: skip
    # GA's own way of writing direct, on a landing page view
    _events(gw, {"name": "page_view", "client_id": ben, "traffic": {"source": "(direct)", "medium": "(none)"}})
    _events(gw, {"name": "purchase", "client_id": ben, "params": {"transaction_id": "T-2002", "value": 30,
                                                                  "currency": "EUR"}})  # fmt: skip
    wait_for(lambda: sum(e["name"] == "purchase" for _, e in standin.events()) == 2)
    relayed = {e["name"] for _, e in standin.events()}
    assert "session_start" not in relayed  # reserved in GA4: never relayed, under any name
    assert relayed == {"purchase", "page_view"}
    _run(gw, 6, "last_touch", "last_non_direct")
    paths = _rows(gw, "SELECT transaction_id, path, default_path FROM attribution_paths ORDER BY transaction_id")
    assert paths == [
        {"transaction_id": "T-2001", "path": "google / cpc > direct", "default_path": "Paid Search > Direct"},
        {"transaction_id": "T-2002", "path": "direct", "default_path": "Direct"},
    ]
    credits = _rows(gw, "SELECT model, conversion_id, channel, default_channel, credit FROM attribution_credits "
                        "ORDER BY model, conversion_id")  # fmt: skip
    assert credits == [
        {"model": "last_non_direct", "conversion_id": "tx:T-2001", "channel": "google / cpc",
         "default_channel": "Paid Search", "credit": 1},
        {"model": "last_non_direct", "conversion_id": "tx:T-2002", "channel": "direct",
         "default_channel": "Direct", "credit": 1},  # only direct: the last touch all the same
        {"model": "last_touch", "conversion_id": "tx:T-2001", "channel": "direct", "default_channel": "Direct",
         "credit": 1},
        {"model": "last_touch", "conversion_id": "tx:T-2002", "channel": "direct", "default_channel": "Direct",
         "credit": 1},
    ]  # fmt: skip
    side_by_side = _rows(gw, "SELECT model, default_channel, conversions FROM attribution_by_default_channel "
                             "ORDER BY model, default_channel")  # fmt: skip
    assert side_by_side == [
        {"model": "last_non_direct", "default_channel": "Direct", "conversions": 1},
        {"model": "last_non_direct", "default_channel": "Paid Search", "conversions": 1},
        {"model": "last_touch", "default_channel": "Direct", "conversions": 2},
    ]
