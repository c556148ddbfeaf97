"""Issue 11, items 11 and 12 and the /v1/links lows, against a running gateway.

The landing token goes only to the shop's own sites, names the recipient differently on every
click, and identifies once; /v1/links answers 422 naming the field for what the signer cannot
carry, and for destinations outside GA4GW_LINK_DESTINATIONS (the route and the CLI alike).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.test_identity_live import local

pytestmark = pytest.mark.live

HUMAN = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "accept": "text/html", "accept-language": "en"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    gateway = start_gateway(
        tmp_path_factory.mktemp("privacy") / "data",
        GA4GW_PUBLIC_URL="https://t.shop.example",  # landing domain by default: shop.example
        GA4GW_LANDING_DOMAINS="",
        GA4GW_LINK_DESTINATIONS="shop.example,partner.example",
        GA4GW_CONSENT_DEFAULT_REGION="US",  # an opt-out region: clicks are personal unless denied
    )
    yield gateway
    gateway.stop()


def _links(gw: LiveGateway, **fields: object) -> httpx.Response:
    body = {"campaign": "privacy", "recipient": "sub-1", "sent_at": int(time.time()) - 60, **fields}
    return httpx.post(gw.url + "/v1/links", json=body, headers={"authorization": f"Bearer {gw.token('links:write')}"})


def _click(gw: LiveGateway, tracked: str) -> str:
    answer = httpx.get(local(gw, tracked), headers=HUMAN)
    assert answer.status_code == 302
    return answer.headers["location"]


def _landing(location: str) -> str | None:
    return parse_qs(urlsplit(location).query).get("ga4gw_lt", [None])[0]


def _identify(gw: LiveGateway, token: str, client_id: str) -> httpx.Response:
    auth = {"authorization": f"Bearer {gw.token('identity:write')}"}
    return httpx.post(gw.url + "/v1/identify", json={"landing_token": token, "client_id": client_id}, headers=auth)


def test_only_the_shops_own_sites_get_a_landing_token(gw: LiveGateway) -> None:
    urls = [
        "https://shop.example/sale",
        "https://www.shop.example/p/1?ga4gw_lt=planted",
        "https://partner.example/reviews",  # may be linked to, but is not the shop: no token
        "https://partner.example/r?ga4gw_lt=planted",  # a planted token is removed all the same
    ]
    made = _links(gw, urls=urls)
    assert made.status_code == 200, made.text
    locations = [_click(gw, link["tracked"]) for link in made.json()["links"]]
    assert [_landing(x) is not None for x in locations] == [True, True, False, False]
    assert _landing(locations[1]) != "planted"
    assert "ga4gw_lt" not in locations[3]
    assert urlsplit(locations[2]).netloc == "partner.example"


def test_the_landing_url_names_the_recipient_differently_on_every_click(gw: LiveGateway) -> None:
    seen = []
    for campaign in ("spring", "summer"):
        made = _links(gw, campaign=campaign, urls=["https://shop.example/p"]).json()
        for _ in range(2):
            token = _landing(_click(gw, made["links"][0]["tracked"]))
            assert token is not None
            seen.append(jwt.decode(token, options={"verify_signature": False})["rcp"])
    assert len(set(seen)) == 4  # nothing the shop's analytics can join clicks or campaigns on
    assert not any(s.startswith("rc_") for s in seen)


def test_a_landing_token_identifies_once(gw: LiveGateway) -> None:
    made = _links(gw, campaign="forwarded", urls=["https://shop.example/p"]).json()
    token = _landing(_click(gw, made["links"][0]["tracked"]))
    assert token is not None
    first = _identify(gw, token, "1111.1700000000")
    assert first.status_code == 202, first.text
    retry = _identify(gw, token, "1111.1700000000")  # the shop's retry of the same identification
    assert (retry.status_code, retry.json()["event_id"]) == (202, first.json()["event_id"])
    forwarded = _identify(gw, token, "2222.1700000000")  # someone else opened the forwarded link
    assert forwarded.status_code == 409, forwarded.text
    assert "landing_token" in forwarded.json()["fields"]
    rows = run_cli("sql", "SELECT count() FROM events WHERE ga_client_id = '2222.1700000000'", env=gw.env)
    assert rows.stdout.strip() == "0"


def test_links_answer_422_naming_the_field_never_500(gw: LiveGateway) -> None:
    long_url = "https://shop.example/p?q=" + "x" * 4100
    cases: list[tuple[dict[str, object], str]] = [
        ({"urls": [long_url]}, "urls.0"),
        ({"urls": ["https://shop.example/ok", "https://shop.example/a\x1fb"]}, "urls.1"),
        ({"campaign": "winter\x1f26", "urls": ["https://shop.example/"]}, "campaign"),
        ({"recipient": "sub\x1f1", "urls": ["https://shop.example/"]}, "recipient"),
        ({"variant": "B\x1f", "urls": ["https://shop.example/"]}, "variant"),
        ({"sent_at": 1e300, "urls": ["https://shop.example/"]}, "sent_at"),  # every later hit would fail
        ({"sent_at": "9999-12-31T23:59:59Z", "urls": ["https://shop.example/"]}, "sent_at"),
    ]
    for fields, name in cases:
        answer = _links(gw, **fields)
        assert answer.status_code == 422, (name, answer.status_code, answer.text[:200])
        assert name in answer.json()["fields"], answer.text[:300]
    long_in_html = _links(gw, html=f'<a href="{long_url}">x</a>')  # left as it was, listed, never a 500
    assert long_in_html.status_code == 200
    assert [u["reason"] for u in long_in_html.json()["untracked"]] == ["refused"]
    infinite = '{"campaign": "c", "recipient": "r", "sent_at": Infinity, "urls": ["https://shop.example/"]}'
    headers = {"authorization": f"Bearer {gw.token('links:write')}", "content-type": "application/json"}
    answer = httpx.post(gw.url + "/v1/links", content=infinite, headers=headers)
    assert answer.status_code in (400, 422), answer.text[:200]


def test_destinations_outside_the_allow_list_are_refused_at_signing(gw: LiveGateway) -> None:
    answer = _links(gw, urls=["https://www.shop.example/a", "https://evil.example/b", "https://shop.example.evil/c"])
    assert answer.status_code == 422
    assert set(answer.json()["fields"]) == {"urls.1", "urls.2"}
    assert "evil.example" in answer.json()["fields"]["urls.1"]
    html = '<a href="https://shop.example/a">ok</a> <a href="https://evil.example\\@shop.example/">trick</a>'
    # In HTML a link that cannot be tracked is left as it was and listed (the rewriter never fails a whole email)
    rewritten = _links(gw, html=html)
    assert rewritten.status_code == 200
    [left] = rewritten.json()["untracked"]
    assert (left["reason"], left["url"]) == ("refused", "https://evil.example\\@shop.example/")
    assert "evil.example" in left["detail"]
    assert 'href="https://evil.example\\@shop.example/"' in rewritten.json()["html"]  # byte for byte
    assert _links(gw, html='<a href="https://partner.example/a">ok</a>').status_code == 200
    cli = run_cli("links", "sign", "--campaign", "c", "--recipient", "r", "https://evil.example/", env=gw.env)
    assert cli.returncode == 2
    assert "GA4GW_LINK_DESTINATIONS" in cli.stderr
    rewrite = run_cli("rewrite", "--campaign", "c", "--recipient", "r", stdin=html, env=gw.env)
    assert rewrite.returncode == 0
    assert "1 links tracked, 1 left untracked" in rewrite.stderr
    assert "evil.example" in rewrite.stderr
    assert 'href="https://evil.example\\@shop.example/"' in rewrite.stdout
    assert run_cli("links", "sign", "--campaign", "c", "--recipient", "r", "https://shop.example/", env=gw.env).stdout
