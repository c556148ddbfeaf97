"""Every URL ``/v1/links`` accepts redirects to exactly itself; every other one is refused at signing (issue 13).

Found 1: ``HTTP://WWW.EXAMPLE.COM/SALE`` was signed, and its click answered 404, because the token
only shortened lower-case schemes and the decoder refused the rest.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import LiveGateway, clean_env, configured_keys, run_cli, start_gateway

pytestmark = pytest.mark.live

_SCHEMES = st.sampled_from(["http", "https", "HTTP", "HTTPS", "Https", "hTtP"])
_USERINFO = st.sampled_from(["", "user@", "user:pa%40ss@", "ünï:x@"])
_HOSTS = st.sampled_from(
    [
        "shop.example",
        "WWW.EXAMPLE.COM",
        "xn--bcher-kva.example",
        "bücher.example",
        "例え.テスト",
        "[::1]",
        "[2001:DB8::1]",
        "127.0.0.1",
        "localhost",
    ]
)
_PORTS = st.sampled_from(["", ":8080", ":443", ":1", ":"])
_PIECES = st.sampled_from(
    ["a", "Z", "/", "//", "./", "../", "%20", "%2F", "%C3%A9", "%", "é", "€", ";", ":", "@", "!$'()*+,=", "~", " ", "|"]
)
_PATHS = st.one_of(st.just(""), st.lists(_PIECES, max_size=6).map(lambda p: "/" + "".join(p)))
_QUERIES = st.one_of(
    st.just(""), st.just("?"), st.lists(st.sampled_from(["a=1", "b=", "c", "x=%26", "y=ü", "=", "", "a[b]=2"]),
                                        max_size=4).map(lambda p: "?" + "&".join(p))
)  # fmt: skip
_FRAGMENTS = st.one_of(st.just(""), st.lists(_PIECES | st.sampled_from(["?", "#", "&"]), max_size=4).map(
    lambda p: "#" + "".join(p)))  # fmt: skip
_URLS = st.tuples(_SCHEMES, _USERINFO, _HOSTS, _PORTS, _PATHS, _QUERIES, _FRAGMENTS).map(
    lambda p: f"{p[0]}://{p[1]}{p[2]}{p[3]}{p[4]}{p[5]}{p[6]}"
)
_ADDED = r"utm_source=newsletter&utm_medium=email&utm_campaign={c}&utm_content={l}&utm_id={c}(?:&ga4gw_lt=[\w.~%-]+)?"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("roundtrip") / "data", GA4GW_PIPELINE_MAX_DELAY="0.1")
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def client(gw: LiveGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {gw.token('links:write')}"}) as client:
        yield client


def _expected(destination: str, campaign: str, link_id: str = "1") -> re.Pattern[str]:
    """The destination with the campaign parameters (and maybe a landing token) added before its fragment."""
    base, hash_mark, fragment = destination.partition("#")
    path, _, query = base.partition("?")
    before = f"{base}&" if query else f"{path}?"
    decode = (lambda s: s) if destination.isascii() else unquote  # the Location percent-encodes non-ASCII
    added = _ADDED.format(c=campaign, l=link_id)
    return re.compile(re.escape(decode(before)) + added + re.escape(decode(hash_mark + fragment)))


def _click(client: httpx.Client, tracked: str, **kwargs: Any) -> httpx.Response:
    """Follow a tracked link on the test gateway (the links name GA4GW_PUBLIC_URL, not its port)."""
    return client.get("/c/" + tracked.rsplit("/c/", 1)[1], follow_redirects=False, **kwargs)


def _sign(client: httpx.Client, campaign: str, url: str, recipient: str = "sub-1") -> httpx.Response:
    return client.post("/v1/links", json={"campaign": campaign, "recipient": recipient, "urls": [url]})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(url=_URLS)
def test_every_signed_url_redirects_to_exactly_itself(client: httpx.Client, url: str) -> None:
    campaign = f"c-{uuid.uuid4().hex[:8]}"
    signed = _sign(client, campaign, url)
    if signed.status_code == 422:  # refused at signing, naming the field: fine, never a 404 at click time
        assert "urls.0" in signed.json()["fields"], signed.text
        return
    assert signed.status_code == 200, signed.text
    (link,) = signed.json()["links"]
    assert link["url"] == url.strip()  # /v1/links trims the ends of a URL, as documented, and says what it signed
    url, tracked = link["url"], link["tracked"]
    answer = _click(client, tracked)
    assert answer.status_code == 302, (url, answer.status_code)
    location = answer.headers["location"]
    shown = location if url.isascii() else unquote(location)
    assert _expected(url, campaign).fullmatch(shown), (url, location)


@pytest.mark.parametrize("url", ["HTTP://WWW.EXAMPLE.COM/SALE", "Https://shop.example/new", "HTTPS://[::1]:8443/"])
def test_upper_and_mixed_case_schemes_redirect(client: httpx.Client, url: str) -> None:
    signed = _sign(client, "c-case", url)
    assert signed.status_code == 200, signed.text
    answer = _click(client, signed.json()["links"][0]["tracked"])
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(url + "?utm_source=newsletter&")


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "HTTP://",
        "https://[::1/",
        "https://user@/x",
        "https://shop.example/a\nb",
        "https://shop.example/\x7f",
    ],
)
def test_unsignable_urls_are_refused_at_signing_naming_the_field(client: httpx.Client, url: str) -> None:
    answer = _sign(client, "c-bad", url)
    assert answer.status_code == 422, answer.text
    assert "urls.0" in answer.json()["fields"]


def test_cli_refuses_unsignable_urls_with_exit_2(tmp_path: Path) -> None:
    env = clean_env(GA4GW_DATA_DIR=str(tmp_path / "data"), GA4GW_PUBLIC_URL="https://t.shop.example",
                    **configured_keys())  # fmt: skip
    for url in ("http://", "https://[::1/"):
        bad = run_cli("links", "sign", "--campaign", "c1", "--recipient", "r", url, env=env)
        assert bad.returncode == 2, bad.stderr
        assert "cannot be signed" in bad.stderr
        assert "Traceback" not in bad.stderr
    good = run_cli("links", "sign", "--campaign", "c1", "--recipient", "r", "HTTP://WWW.EXAMPLE.COM/SALE", env=env)
    assert good.returncode == 0, good.stderr


def _payload(tracked: str) -> bytes:
    """The bytes a tracking token carries, readable by anyone holding the link (signed, not encrypted)."""
    payload = tracked.rsplit("/", 1)[1].removesuffix(".gif").split(".")[1]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))


def _rows(gw: LiveGateway, campaign: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while httpx.get(gw.url + "/readyz").json()["outbox"]["pending"]:
        assert time.monotonic() < deadline, "the outbox did not drain"
        time.sleep(0.05)
    answer = httpx.post(
        gw.url + "/clickhouse/",
        params={"default_format": "JSONEachRow"},
        content=f"SELECT recipient FROM events FINAL WHERE campaign_id = '{campaign}'".encode(),
        auth=("tests", gw.token("sql:read")),
    )
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines()]


@pytest.mark.parametrize("recipient", ["jane@example.com", " Jane.Doe+news@Example.co.uk", "jane%40example.com"])
def test_an_email_shaped_recipient_key_is_pseudonymised_with_a_warning(
    gw: LiveGateway, client: httpx.Client, recipient: str
) -> None:
    campaign = f"c-{uuid.uuid4().hex[:8]}"
    signed = _sign(client, campaign, "https://shop.example/x", recipient=recipient)
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert any("email" in warning for warning in body["warnings"])
    local = recipient.strip().split("@")[0].split("%40")[0].encode()
    for url in (body["links"][0]["tracked"], body["pixel"]):
        assert local.lower() not in _payload(url).lower()
    click = _click(client, body["links"][0]["tracked"], headers={"user-agent": "Mozilla/5.0 (X11) Firefox/130.0"})
    assert click.status_code == 302
    (row,) = _rows(gw, campaign)
    assert row["recipient"]
    assert "@" not in row["recipient"]
    assert local.decode().lower() not in row["recipient"].lower()


def test_an_ordinary_recipient_key_gets_no_warning(client: httpx.Client) -> None:
    signed = _sign(client, "c-key", "https://shop.example/x", recipient="sub-4711")
    assert signed.json()["warnings"] == []
    assert b"sub-4711" in _payload(signed.json()["links"][0]["tracked"])


def test_cli_pseudonymises_an_email_recipient_and_warns_on_stderr(tmp_path: Path) -> None:
    env = clean_env(GA4GW_DATA_DIR=str(tmp_path / "data"), GA4GW_PUBLIC_URL="https://t.shop.example",
                    **configured_keys())  # fmt: skip
    signed = run_cli(
        "links", "sign", "--campaign", "c1", "--recipient", "jane@example.com", "https://x.example/", env=env
    )
    assert signed.returncode == 0, signed.stderr
    assert "ga4gw: warning: recipient looks like an email" in signed.stderr
    assert "jane" not in signed.stderr
    assert b"jane" not in _payload(signed.stdout.strip())


_BUTTON = (
    '<a href="http://" style="background-color:#ff6f6f;color:#ffffff;">Shop Now</a>\n'  # Campaign Monitor's default
    '<a href="https://shop.example/<%= sku %>">JSP</a> <a href="HTTP://WWW.EXAMPLE.COM/SALE">Sale</a>\n'
)


def test_html_with_links_that_cannot_be_tracked_answers_200_listing_them(client: httpx.Client) -> None:
    answer = client.post("/v1/links", json={"campaign": "c-html", "recipient": "sub-1", "html": _BUTTON})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["html"].startswith(_BUTTON.split("\n")[0] + '\n<a href="https://shop.example/<%= sku %>">JSP</a>')
    assert [link["url"] for link in body["links"]] == ["HTTP://WWW.EXAMPLE.COM/SALE"]
    assert [(u["url"], u["reason"]) for u in body["untracked"]] == [
        ("http://", "refused"),
        ("https://shop.example/<%= sku %>", "placeholder"),
    ]
    assert "no host" in body["untracked"][0]["detail"]


def test_cli_rewrite_reports_untracked_links_instead_of_a_traceback(tmp_path: Path) -> None:
    env = clean_env(GA4GW_DATA_DIR=str(tmp_path / "data"), GA4GW_PUBLIC_URL="https://t.shop.example",
                    **configured_keys())  # fmt: skip
    done = run_cli("rewrite", "--campaign", "c1", "--recipient", "sub-9", env=env, stdin=_BUTTON)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.startswith(_BUTTON.split("\n")[0])
    assert "1 links tracked, 2 left untracked" in done.stderr
    assert "'http://': refused" in done.stderr


_TEMPLATES = Path(__file__).parents[1] / "data" / "email_templates"


@pytest.mark.parametrize("name", sorted(p.name for p in _TEMPLATES.glob("*.html")))
def test_every_link_tracked_in_a_public_template_round_trips(client: httpx.Client, name: str) -> None:
    """The corpus through the route and the edge: 200, and each tracked link leads to its own destination."""
    campaign = f"c-{uuid.uuid4().hex[:8]}"
    html = (_TEMPLATES / name).read_text(encoding="utf-8")
    answer = client.post("/v1/links", json={"campaign": campaign, "recipient": "sub-1", "html": html})
    assert answer.status_code == 200, answer.text
    for link in answer.json()["links"]:
        location = _click(client, link["tracked"]).headers["location"]
        shown = location if link["url"].isascii() else unquote(location)
        assert _expected(link["url"], campaign, link["link_id"]).fullmatch(shown), (link["url"], location)
