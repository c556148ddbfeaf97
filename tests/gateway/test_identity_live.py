"""The identity graph in the running gateway: a click's landing token, the shop's events and the relay."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.ga4.standin import StandIn
from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import HUMAN_UA, ga4_settings

pytestmark = pytest.mark.live

GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


def sql(gw: LiveGateway, query: str) -> str:
    result = run_cli("sql", query, env=gw.env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def links(gw: LiveGateway, **fields: object) -> dict:
    token = gw.token("links:write")
    body = {"campaign": "winter-26", "sent_at": int(time.time()) - 3600, **fields}
    answer = httpx.post(gw.url + "/v1/links", json=body, headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def local(gw: LiveGateway, url: str) -> str:
    return gw.url + urlsplit(url).path


@pytest.fixture
def gw(tmp_path: Path, standin: StandIn) -> Iterator[LiveGateway]:
    gateway = start_gateway(tmp_path / "data", GA4GW_PIPELINE_MAX_DELAY="0.2", **ga4_settings(standin))
    yield gateway
    gateway.stop()


def test_a_landing_token_joins_the_recipient_to_the_sites_client_id_and_later_opens_use_it(
    gw: LiveGateway, standin: StandIn
) -> None:
    made = links(gw, recipient="sub-5150", urls=["https://shop.example/sale"])
    click = httpx.get(local(gw, made["links"][0]["tracked"]),
                      headers={"user-agent": HUMAN_UA, "accept": "text/html", "accept-language": "en"})  # fmt: skip
    landing = parse_qs(urlsplit(click.headers["location"]).query)["ga4gw_lt"][0]
    token = gw.token("identity:write")
    auth = {"authorization": f"Bearer {token}"}
    refused = httpx.post(gw.url + "/v1/identify", headers=auth,
                         json={"landing_token": landing[:-3] + "abc", "client_id": "nope"})  # fmt: skip
    assert refused.status_code == 422
    assert set(refused.json()["fields"]) == {"landing_token", "client_id"}
    ok = httpx.post(gw.url + "/v1/identify", headers=auth,
                    json={"landing_token": landing, "client_id": "777.1700000000", "user_id": "crm-9"})  # fmt: skip
    assert ok.status_code == 202, ok.text
    wait_for(lambda: sql(gw, "SELECT count() FROM identity_edges WHERE source = 'landing_token'") == "2")
    time.sleep(0.3)  # the pipeline adds the batch's edges to the graph right after storing them
    standin.reset()
    # the next day's open comes through Gmail's proxy: no cookie, only the recipient in the pixel
    assert httpx.get(local(gw, made["pixel"]), headers={"user-agent": GMAIL_PROXY}).status_code == 200
    wait_for(lambda: any(e["name"] == "email_open" for _, e in standin.events()))
    [(body, _)] = [(b, e) for b, e in standin.events() if e["name"] == "email_open"]
    assert body["client_id"] == "777.1700000000"  # the person's real web client id: joins their GA4 history
    assert body["user_id"].startswith("us_")  # the person's primary id, pseudonymised
    everything = json.dumps([r.body for r in standin.requests()]) + sql(gw, "SELECT * FROM identity_edges")
    assert "crm-9" not in everything
    assert "sub-5150" not in json.dumps([r.body for r in standin.requests()])


def test_the_shops_purchase_teaches_the_graph_who_an_email_recipient_is(gw: LiveGateway, standin: StandIn) -> None:
    token = gw.token("events:write")
    purchase = {"name": "purchase", "email": "Zoe@Example.com", "client_id": "4242.1700000000",
                "params": {"transaction_id": "T-77", "value": 10, "currency": "EUR"}}  # fmt: skip
    answer = httpx.post(
        gw.url + "/v1/events", json={"events": [purchase]}, headers={"authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 202
    wait_for(lambda: sql(gw, "SELECT count() FROM identity_edges WHERE source = 'server_event'") == "1")
    time.sleep(0.3)
    made = links(gw, email="zoe@example.com", urls=["https://shop.example/new"])  # no cookie on this device
    httpx.get(local(gw, made["links"][0]["tracked"]),
              headers={"user-agent": HUMAN_UA, "accept": "text/html", "accept-language": "en"})  # fmt: skip
    wait_for(lambda: any(e["name"] == "email_click" for _, e in standin.events()))
    [body] = [b for b, e in standin.events() if e["name"] == "email_click"]
    assert body["client_id"] == "4242.1700000000"
    assert body["user_id"].startswith("em_")
