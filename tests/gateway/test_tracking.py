"""The tracking edge end to end: real gateway process, real HTTP, rows read back from the real warehouse."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.config.keys import load_keyrings
from gateway.config.settings import load_settings
from gateway.edge.links import LinkSigner, LinkToken, Mode, TokenKind
from gateway.edge.tracking import GIF
from identity import LandingTokens, Pseudonymizer
from tests.conftest import LiveGateway, start_gateway

pytestmark = pytest.mark.live

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
APPLE_MPP = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
PERSON = {"user-agent": CHROME, "accept-language": "de-DE,de;q=0.9"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("edge") / "data", GA4GW_PIPELINE_MAX_DELAY="0.1")
    yield gateway
    gateway.stop()


def _signer(gw: LiveGateway) -> LinkSigner:
    keys = load_keyrings(load_settings(gw.env))  # the gateway's own keys
    return LinkSigner(keys.signing, gw.url, Pseudonymizer(keys.pseudonym.keys))


def _landing(gw: LiveGateway) -> LandingTokens:
    return LandingTokens(load_keyrings(load_settings(gw.env)).signing.keys)


def _token(campaign: str, **fields: Any) -> LinkToken:
    base: dict[str, Any] = {
        "kind": TokenKind.CLICK,
        "campaign_id": campaign,
        "recipient": "sub-4711",
        "link_id": "2",
        "url": "https://shop.example/p/shirt?color=blue&size=m#reviews",
        "variant": "B",
        "sent_at": int(time.time()) - 3600,
    }
    base.update(fields)
    return LinkToken(**base)


def _rows(gw: LiveGateway, campaign: str) -> list[dict[str, Any]]:
    """Wait for the outbox to drain, then read the campaign's events."""
    deadline = time.monotonic() + 30
    while httpx.get(gw.url + "/readyz").json()["outbox"]["pending"]:
        assert time.monotonic() < deadline, "the outbox did not drain"
        time.sleep(0.05)
    return _sql(gw, f"SELECT * FROM events FINAL WHERE campaign_id = '{campaign}' ORDER BY event_time")


def _sql(gw: LiveGateway, sql: str) -> list[dict[str, Any]]:
    token = getattr(gw, "_sql_token", None) or gw.token("sql:read")
    gw._sql_token = token  # type: ignore[attr-defined]
    answer = httpx.post(
        gw.url + "/clickhouse/", params={"default_format": "JSONEachRow"}, content=sql.encode(), auth=("tests", token)
    )
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines()]


def _campaign() -> str:
    return f"c-{uuid.uuid4().hex[:8]}"


def test_pixel_answers_the_gif_and_records_the_open(gw: LiveGateway) -> None:
    campaign = _campaign()
    url = _signer(gw).pixel_url(_token(campaign))
    answer = httpx.get(url, headers=PERSON)
    assert answer.status_code == 200
    assert answer.content == GIF
    assert len(GIF) == 43
    assert answer.headers["content-type"] == "image/gif"
    assert "no-store" in answer.headers["cache-control"]
    (row,) = _rows(gw, campaign)
    assert (row["event_name"], row["source"], row["recipient"], row["variant"]) == (
        "email_open",
        "open",
        "sub-4711",
        "B",
    )
    assert row["verdict"] == "human"
    assert row["ip_truncated"] == "127.0.0.0"  # never the full address
    assert row["user_agent"] == CHROME


@pytest.mark.parametrize(
    "path", ["/o/garbage.gif", "/o/garbage", "/o/dev1.AAAA.BBBB.gif", "/o/%ff%fe.gif", "/o/" + "x" * 5000]
)
def test_pixel_answers_the_gif_whatever_the_token(gw: LiveGateway, path: str) -> None:
    before = _metric(gw, 'ga4gw_bad_tokens_total{kind="open"}')
    answer = httpx.get(gw.url + path)
    assert answer.status_code == 200
    assert answer.content == GIF
    assert _metric(gw, 'ga4gw_bad_tokens_total{kind="open"}') == before + 1


def _metric(gw: LiveGateway, name: str) -> float:
    for line in httpx.get(gw.url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_click_redirects_with_campaign_parameters_and_a_landing_token(gw: LiveGateway) -> None:
    campaign = _campaign()
    answer = httpx.get(
        _signer(gw).click_url(_token(campaign)),
        headers=PERSON,
        cookies={"_ga": "GA1.1.987654321.1700000000", "_ga_ABC123": "GS1.1.1700000000.1.1.1700000100.0"},
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert (location.scheme, location.netloc, location.path, location.fragment) == (
        "https",
        "shop.example",
        "/p/shirt",
        "reviews",
    )
    assert location.query.startswith("color=blue&size=m&")  # the shop's own parameters, untouched
    query = parse_qs(location.query)
    assert query["utm_source"] == ["newsletter"]
    assert query["utm_medium"] == ["email"]
    assert query["utm_campaign"] == [campaign]
    assert query["utm_id"] == [campaign]
    assert query["utm_content"] == ["B-2"]
    claims = _landing(gw).verify(query["ga4gw_lt"][0])
    assert claims.campaign_id == campaign
    assert claims.link_id == "2"
    assert claims.recipient_pseudonym.startswith("rc_")
    assert "4711" not in claims.recipient_pseudonym
    assert claims.expires_at - time.time() <= 1800
    (row,) = _rows(gw, campaign)
    assert row["event_id"] == claims.event_id
    assert row["event_name"] == "email_click"
    assert row["ga_client_id"] == "987654321.1700000000"
    assert row["url"] == "https://shop.example/p/shirt?color=blue&size=m#reviews"
    assert row["link_id"] == "2"


def test_existing_utm_values_are_kept(gw: LiveGateway) -> None:
    url = "https://shop.example/sale?utm_source=partner&utm_campaign=own"
    answer = httpx.get(_signer(gw).click_url(_token(_campaign(), url=url)))
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["utm_source"] == ["partner"]
    assert query["utm_campaign"] == ["own"]
    assert query["utm_medium"] == ["email"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],
        lambda t: t.replace(".", ".x", 1),
        lambda t: "zz" + t,
        lambda t: t[:20],
    ],
)
def test_a_tampered_click_never_redirects_to_an_unsigned_place(gw: LiveGateway, mutate: Any) -> None:
    token = _signer(gw).click_url(_token(_campaign())).rsplit("/", 1)[1]
    answer = httpx.get(f"{gw.url}/c/{mutate(token)}")
    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert "This link is not valid" in answer.text


@pytest.mark.parametrize("path", ["/c/", "/c/%00%0d%0aSet-Cookie:x=1", "/c/" + "A" * 20000, "/c/a.b.c", "/c/%ff"])
def test_garbage_clicks_get_a_page_never_a_500(gw: LiveGateway, path: str) -> None:
    answer = httpx.get(gw.url + path)
    assert answer.status_code == 404
    assert "set-cookie" not in answer.headers


def test_the_fallback_url_catches_bad_links(tmp_path: Path) -> None:
    other = start_gateway(tmp_path / "data", GA4GW_FALLBACK_URL="https://shop.example/")
    try:
        answer = httpx.get(other.url + "/c/not-a-token")
        assert answer.status_code == 302
        assert answer.headers["location"] == "https://shop.example"
    finally:
        other.stop()


def test_an_expired_link_still_redirects_and_is_recorded_as_expired(gw: LiveGateway) -> None:
    campaign = _campaign()
    token = _token(campaign, expires_at=int(time.time()) - 60)
    answer = httpx.get(_signer(gw).click_url(token), headers=PERSON)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("https://shop.example/p/shirt?")
    (row,) = _rows(gw, campaign)
    assert row["params"]["expired"] == "1"
    assert "link_expired" in row["verdict_reasons"]


def test_head_answers_the_same_and_records_nothing(gw: LiveGateway) -> None:
    campaign = _campaign()
    signer = _signer(gw)
    pixel = httpx.head(signer.pixel_url(_token(campaign)))
    assert pixel.status_code == 200
    assert pixel.headers["content-length"] == "43"
    click = httpx.head(signer.click_url(_token(campaign)))
    assert click.status_code == 302
    assert click.headers["location"].startswith("https://shop.example/p/shirt?")
    httpx.get(signer.pixel_url(_token(_campaign())))  # something to drain, so _rows has waited
    assert _rows(gw, campaign) == []


def test_anonymous_mode_keeps_only_campaign_and_link(gw: LiveGateway) -> None:
    campaign = _campaign()
    signer = _signer(gw)
    token = _token(campaign, mode=Mode.ANONYMOUS, recipient="")
    httpx.get(signer.click_url(token), headers=PERSON, cookies={"_ga": "GA1.1.1.2"})
    (row,) = _rows(gw, campaign)
    assert (row["campaign_id"], row["link_id"]) == (campaign, "2")
    assert row["recipient"] == row["ga_client_id"] == row["ip_truncated"] == row["user_agent"] == ""


def test_email_is_never_in_a_link_nor_stored(gw: LiveGateway) -> None:
    campaign = _campaign()
    signer = _signer(gw)
    fields = signer.recipient_fields(Mode.PSEUDONYMOUS, email="Jane.Doe@Example.com")
    url = signer.click_url(_token(campaign, **fields))
    assert "jane" not in url.lower()
    httpx.get(url, headers=PERSON)
    (row,) = _rows(gw, campaign)
    assert row["recipient"].startswith("em_")
    assert "jane" not in json.dumps(row).lower()


def test_machine_opens_are_told_apart_and_upgraded_by_a_later_human_click(gw: LiveGateway) -> None:
    campaign = _campaign()
    signer = _signer(gw)
    token = _token(campaign, sent_at=int(time.time()) - 60)
    httpx.get(signer.pixel_url(token), headers={"user-agent": APPLE_MPP})  # Apple's prefetch
    other = _token(campaign, recipient="sub-9", sent_at=int(time.time()) - 60)
    httpx.get(signer.pixel_url(other), headers={"user-agent": APPLE_MPP})
    httpx.get(signer.click_url(token), headers={"user-agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"})
    httpx.get(signer.click_url(token), headers=PERSON)  # the person
    rows = _rows(gw, campaign)
    assert [r["verdict"] for r in rows] == ["apple_mpp", "apple_mpp", "scanner", "human"]
    (stats,) = _sql(gw, f"SELECT * FROM campaign_engagement WHERE campaign_id = '{campaign}'")
    assert (stats["opens_raw"], stats["opens_human"], stats["opens_apple_mpp"]) == (2, 0, 2)
    assert (stats["clicks_raw"], stats["clicks_human"]) == (2, 1)
    assert (stats["openers_raw"], stats["openers_human"]) == (2, 1)  # sub-4711 upgraded, sub-9 not
    per_recipient = _sql(
        gw, f"SELECT recipient, opened_human FROM email_engagement WHERE campaign_id = '{campaign}' ORDER BY recipient"
    )
    assert per_recipient == [
        {"recipient": "sub-4711", "opened_human": True},
        {"recipient": "sub-9", "opened_human": False},
    ]


def test_rotated_keys_keep_old_links_working(tmp_path: Path) -> None:
    old, new = "old1:" + "o" * 40, "new1:" + "n" * 40
    first = start_gateway(tmp_path / "a", GA4GW_SIGNING_KEYS=old)
    signer = _signer(first)
    url = signer.click_url(_token(_campaign()))
    first.stop()
    rotated = start_gateway(tmp_path / "b", GA4GW_SIGNING_KEYS=f"{new},{old}")
    try:
        answer = httpx.get(rotated.url + "/c/" + url.rsplit("/", 1)[1])
        assert answer.status_code == 302
    finally:
        rotated.stop()


def test_hits_are_accepted_while_the_warehouse_is_down(tmp_path: Path) -> None:
    down = start_gateway(
        tmp_path / "data",
        wait_ready=False,
        GA4GW_WAREHOUSE_DSN="http://default:pw@127.0.0.1:9/shop",
        GA4GW_PIPELINE_MAX_DELAY="0.1",
    )
    try:
        signer = _signer(down)
        for i in range(5):
            assert httpx.get(signer.pixel_url(_token("c-down", recipient=f"r{i}"))).content == GIF
            assert httpx.get(signer.click_url(_token("c-down", recipient=f"r{i}"))).status_code == 302
        ready = httpx.get(down.url + "/readyz")
        assert ready.status_code == 503
        assert ready.json()["outbox"]["pending"] == 10  # kept, waiting for the warehouse
        assert "ga4gw_outbox_pending 10" in httpx.get(down.url + "/metrics").text
        deadline = time.monotonic() + 10
        while "ga4gw_warehouse_up 0" not in httpx.get(down.url + "/metrics").text:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        down.stop()
