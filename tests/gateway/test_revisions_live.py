"""A scanner's burst found after the fact, end to end: real gateway, real chDB, the MP stand-in as GA4.

Three links of one recipient clicked within a second (the scanner), one link of another (a person). The
first two clicks were ``human`` when they came; the third completes the burst and revises them. The
revisions reach the warehouse, the views count the final verdicts, attribution sees no person's click, and
the relay, holding clicks for its settling window, relays only the person's.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config.keys import load_keyrings
from gateway.config.settings import load_settings
from gateway.edge.links import LinkSigner, LinkToken, TokenKind
from gateway.ga4.standin import StandIn
from identity import Pseudonymizer
from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import ga4_settings

pytestmark = pytest.mark.live

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
BROWSER = {"user-agent": CHROME, "accept": "text/html", "accept-language": "en-GB"}


@pytest.fixture
def gw(tmp_path: Path, standin: StandIn) -> Iterator[LiveGateway]:
    settings = ga4_settings(standin, GA4GW_PIPELINE_MAX_DELAY="0.1", GA4GW_GA4_SETTLE_SECONDS="3")
    gateway = start_gateway(tmp_path / "data", **settings)
    yield gateway
    gateway.stop()


def _click_url(gw: LiveGateway, campaign: str, recipient: str, link: str) -> str:
    keys = load_keyrings(load_settings(gw.env))
    signer = LinkSigner(keys.signing, gw.url, Pseudonymizer(keys.pseudonym.keys))
    token = LinkToken(kind=TokenKind.CLICK, campaign_id=campaign, recipient=recipient, link_id=link,
                      url=f"https://shop.example/{link}", sent_at=int(time.time()) - 240)  # fmt: skip
    return signer.click_url(token)


def _sql(gw: LiveGateway, sql: str) -> list[dict[str, Any]]:
    answer = httpx.post(gw.url + "/clickhouse/", params={"default_format": "JSONEachRow"}, content=sql.encode(),
                        auth=("tests", gw.token("sql:read")))  # fmt: skip
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines()]


def _skipped(gw: LiveGateway) -> dict[str, int]:
    result = run_cli("ga4", "status", "--json", env=gw.env)
    assert result.returncode == 0, result.stderr
    skipped: dict[str, int] = json.loads(result.stdout)["skipped"]
    return skipped


def test_a_burst_revises_earlier_clicks_in_the_warehouse_views_attribution_and_the_relay(
    gw: LiveGateway, standin: StandIn
) -> None:
    campaign = f"c-{uuid.uuid4().hex[:8]}"
    urls = [_click_url(gw, campaign, "sub-scanned", f"s{n}") for n in range(3)]
    with httpx.Client() as client:
        for url in urls:  # the scanner, within a second
            assert client.get(url, headers=BROWSER).status_code == 302
        assert client.get(_click_url(gw, campaign, "sub-person", "p0"), headers=BROWSER).status_code == 302

    wait_for(lambda: _skipped(gw).get("revised", 0) == 2)
    wait_for(lambda: any(e["name"] == "email_click" for _, e in standin.events()))
    time.sleep(0.5)  # anything else the relay would send has had its chance
    relayed = sorted(e["params"]["content"] for _, e in standin.events() if e["name"] == "email_click")
    assert relayed == ["p0"]  # the scanner's clicks never reached GA4, the revised two included
    assert _skipped(gw)["machine"] == 1  # the third, a scanner's when it came
    assert _skipped(gw)["verdict_revision"] == 2

    wait_for(lambda: len(_sql(gw, f"SELECT 1 FROM events WHERE campaign_id = '{campaign}'")) == 6)
    first = _sql(gw, f"SELECT link_id, verdict FROM events FINAL WHERE campaign_id = '{campaign}' "
                     "AND source = 'click' ORDER BY link_id")  # fmt: skip
    assert [(r["link_id"], r["verdict"]) for r in first] == [
        ("p0", "human"),
        ("s0", "human"),
        ("s1", "human"),
        ("s2", "scanner"),
    ]  # fmt: skip  (the rows as recorded: never rewritten)
    final = _sql(gw, f"SELECT link_id, verdict, verdict_reasons FROM events_final WHERE campaign_id = '{campaign}' "
                     "ORDER BY link_id")  # fmt: skip
    assert [(r["link_id"], r["verdict"]) for r in final] == [
        ("p0", "human"), ("s0", "scanner"), ("s1", "scanner"), ("s2", "scanner"),
    ]  # fmt: skip
    assert final[1]["verdict_reasons"] == ["click_before_open", "revised:link_burst"]  # its reasons kept
    (stats,) = _sql(gw, f"SELECT * FROM campaign_engagement WHERE campaign_id = '{campaign}'")
    assert (stats["clicks_raw"], stats["clicks_human"], stats["clickers_human"]) == (4, 1, 1)
    assert int(stats["hits_scanner"]) == 3
    people = _sql(gw, f"SELECT recipient, clicks_human FROM email_engagement WHERE campaign_id = '{campaign}' "
                      "ORDER BY recipient")  # fmt: skip
    assert [(r["recipient"], r["clicks_human"]) for r in people] == [("sub-person", 1), ("sub-scanned", 0)]
    touches = _sql(gw, f"SELECT link_id, person_key FROM attribution_events WHERE campaign_id = '{campaign}' "
                       "AND source = 'click' AND verdict IN ('human', 'image_proxy')")  # fmt: skip
    assert [t["link_id"] for t in touches] == ["p0"]  # only the person's click is a touch
    assert touches[0]["person_key"].startswith("p_")  # a person id since issue 15, never the raw key
