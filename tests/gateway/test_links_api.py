"""POST /v1/links through a real gateway process, and the same from the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway.config.keys import load_keyrings
from gateway.config.settings import load_settings
from gateway.edge.links import LinkSigner, TokenKind
from identity import Pseudonymizer
from tests.conftest import ROOT, LiveGateway, clean_env, configured_keys, run_cli

pytestmark = pytest.mark.live

TEMPLATE = (
    '<html><body>\r\n<table><tr><td><a href="https://shop.example/a?x=1&amp;y=2">Ä</a></td></tr></table>\r\n'
    '<a href="mailto:help@shop.example">help</a> <a href="https://shop.example/unsubscribe">unsubscribe</a>\r\n'
    "</body></html>\r\n"
)


def _verify(gw: LiveGateway, url: str, kind: TokenKind = TokenKind.CLICK) -> object:
    keys = load_keyrings(load_settings(gw.env))
    signer = LinkSigner(keys.signing, gw.url, Pseudonymizer(keys.pseudonym.keys))
    token = url.rsplit("/", 1)[1].removesuffix(".gif")
    return signer.verify(kind, token)


def _post(gw: LiveGateway, body: object, token: str | None = None, **kwargs: object) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.post(gw.url + "/v1/links", json=body, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_urls_become_tracked_links(live_gateway: LiveGateway) -> None:
    token = live_gateway.token("links:write")
    urls = ["https://shop.example/a", "https://shop.example/b?c=1"]
    answer = _post(live_gateway, {"campaign": "spring", "recipient": "sub-1", "variant": "B", "urls": urls}, token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [link["url"] for link in body["links"]] == urls
    assert [link["link_id"] for link in body["links"]] == ["1", "2"]
    decoded = _verify(live_gateway, body["links"][1]["tracked"])
    assert (decoded.campaign_id, decoded.recipient, decoded.link_id, decoded.url, decoded.variant) == (  # type: ignore[attr-defined]
        "spring",
        "sub-1",
        "2",
        "https://shop.example/b?c=1",
        "B",
    )
    assert _verify(live_gateway, body["pixel"], TokenKind.OPEN).campaign_id == "spring"  # type: ignore[attr-defined]
    path = "/c/" + body["links"][0]["tracked"].rsplit("/", 1)[1]
    assert httpx.get(live_gateway.url + path).headers["location"].startswith("https://shop.example/a?utm_source=")


def test_html_is_rewritten_with_the_pixel(live_gateway: LiveGateway) -> None:
    token = live_gateway.token("links:write")
    answer = _post(live_gateway, {"campaign": "spring", "email": "Jane@Example.com", "html": TEMPLATE}, token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["links"]) == 1  # mailto and unsubscribe stay as they are
    assert body["links"][0]["url"] == "https://shop.example/a?x=1&y=2"
    assert body["pixel"] in body["html"].replace("&amp;", "&")
    assert body["html"].index(body["pixel"]) < body["html"].index("</body>")
    assert 'href="mailto:help@shop.example"' in body["html"]
    assert "jane" not in answer.text.lower()


def test_tokens_and_scopes_are_enforced(live_gateway: LiveGateway) -> None:
    body = {"campaign": "c", "recipient": "r", "urls": ["https://shop.example/"]}
    assert _post(live_gateway, body).status_code == 401
    assert _post(live_gateway, body, "garbage").status_code == 401
    assert _post(live_gateway, body, live_gateway.token("sql:read")).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipient": "r", "urls": ["https://a.example/"]}, "campaign"),
        (
            {"campaign": "c", "recipient": "r", "urls": ["https://a.example/", "https://b.example/", "/relative"]},
            "urls.2",
        ),
        ({"campaign": "c", "recipient": "r", "urls": ["https://a.example/"], "html": "<a></a>"}, "urls"),
        ({"campaign": "c", "recipient": "r"}, "urls"),
        ({"campaign": "c", "urls": ["https://a.example/"]}, "recipient"),
        ({"campaign": "c", "recipient": "r", "urls": ["https://a.example/"], "mode": "spy"}, "mode"),
        ({"campaign": "c", "recipient": "r", "urls": ["https://a.example/"], "sent_at": "yesterday"}, "sent_at"),
    ],
)
def test_invalid_requests_name_the_field(live_gateway: LiveGateway, body: dict[str, object], field: str) -> None:
    answer = _post(live_gateway, body, live_gateway.token("links:write"))
    assert answer.status_code == 422
    assert field in answer.json()["fields"]


def test_bodies_that_are_not_json_or_too_large(live_gateway: LiveGateway) -> None:
    headers = {"authorization": f"Bearer {live_gateway.token('links:write')}", "content-type": "application/json"}
    not_json = httpx.post(live_gateway.url + "/v1/links", content=b"{nope", headers=headers)
    assert not_json.status_code == 400
    huge = httpx.post(live_gateway.url + "/v1/links", content=b"x" * (3 * 1024 * 1024), headers=headers)
    assert huge.status_code == 413


def test_cli_signs_links_and_rewrites_html(tmp_path: Path) -> None:
    env = clean_env(GA4GW_DATA_DIR=str(tmp_path / "data"), GA4GW_PUBLIC_URL="https://t.shop.example",
                    **configured_keys())  # fmt: skip
    urls = ["https://shop.example/1", "https://shop.example/2", "https://shop.example/3"]
    signed = run_cli("links", "sign", "--campaign", "c1", "--recipient", "sub-9", *urls, env=env)
    assert signed.returncode == 0, signed.stderr
    lines = signed.stdout.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("https://t.shop.example/c/") for line in lines)
    rewritten = subprocess.run(
        [sys.executable, "-m", "gateway", "rewrite", "--campaign", "c1", "--recipient", "sub-9"],
        input=TEMPLATE.encode(), capture_output=True, env=env, cwd=ROOT, check=True,
    )  # fmt: skip
    out = rewritten.stdout.decode()  # bytes: CRLF must survive as it is
    assert out.startswith('<html><body>\r\n<table><tr><td><a href="https://t.shop.example/c/')
    assert '">Ä</a></td></tr></table>\r\n<a href="mailto:help@shop.example">help</a>' in out
    bad = run_cli("links", "sign", "--campaign", "c1", "--recipient", "r", "shop.example/x", env=env)
    assert bad.returncode == 2
    assert "shop.example/x" in bad.stderr
