"""A pixel fetched from a datacenter at delivery, end to end: real gateway, real chDB, the MP stand-in as GA4.

Issue 13: a scanner's pixel fetch from a cloud network seconds after the send counted as a person's open, was
relayed to GA4 and credited by attribution. Now it is stored as a ``scanner`` and not relayed, while a person on a
cloud VPN opening hours later is still a person's open, relayed, with the ``datacenter`` reason kept.
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
from tests.conftest import LiveGateway, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import ga4_settings

pytestmark = pytest.mark.live

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0 Safari/537.36"
IMAGE = {"user-agent": CHROME, "accept": "image/webp,*/*", "accept-language": "en-US"}


@pytest.fixture
def gw(tmp_path: Path, standin: StandIn) -> Iterator[LiveGateway]:
    settings = ga4_settings(standin, GA4GW_PIPELINE_MAX_DELAY="0.1", GA4GW_GA4_SETTLE_SECONDS="0")
    gateway = start_gateway(tmp_path / "data", **settings)
    yield gateway
    gateway.stop()


def _pixel_url(gw: LiveGateway, campaign: str, recipient: str, sent_ago: int) -> str:
    keys = load_keyrings(load_settings(gw.env))
    signer = LinkSigner(keys.signing, gw.url, Pseudonymizer(keys.pseudonym.keys))
    token = LinkToken(kind=TokenKind.OPEN, campaign_id=campaign, recipient=recipient, link_id="", url="",
                      sent_at=int(time.time()) - sent_ago)  # fmt: skip
    return signer.pixel_url(token)


def _sql(gw: LiveGateway, sql: str) -> list[dict[str, Any]]:
    answer = httpx.post(gw.url + "/clickhouse/", params={"default_format": "JSONEachRow"}, content=sql.encode(),
                        auth=("tests", gw.token("sql:read")))  # fmt: skip
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines()]


def test_a_datacenter_pixel_at_delivery_is_a_scanner_and_never_reaches_ga4(gw: LiveGateway, standin: StandIn) -> None:
    campaign = f"c-{uuid.uuid4().hex[:8]}"
    with httpx.Client() as client:
        # The gateway believes X-Forwarded-For from 127.0.0.1 (GA4GW_TRUSTED_PROXIES' default), as behind a proxy.
        scanned = client.get(
            _pixel_url(gw, campaign, "sub-scanned", 5), headers={**IMAGE, "x-forwarded-for": "3.17.42.10"}
        )
        person = client.get(
            _pixel_url(gw, campaign, "sub-vpn", 3 * 3600), headers={**IMAGE, "x-forwarded-for": "4.150.8.20"}
        )
    assert (scanned.status_code, person.status_code) == (200, 200)  # the pixel is served either way

    wait_for(lambda: len(_sql(gw, f"SELECT 1 FROM events WHERE campaign_id = '{campaign}'")) == 2)
    rows = _sql(gw, f"SELECT recipient, verdict, verdict_reasons FROM events_final WHERE campaign_id = '{campaign}' "
                    "ORDER BY recipient")  # fmt: skip
    assert [(r["recipient"], r["verdict"], r["verdict_reasons"]) for r in rows] == [
        ("sub-scanned", "scanner", ["datacenter_at_delivery_s<60"]),
        ("sub-vpn", "human", ["datacenter"]),
    ]
    wait_for(lambda: any(e["name"] == "email_open" for _, e in standin.events()))
    time.sleep(0.5)  # anything else the relay would send has had its chance
    opens = [e for _, e in standin.events() if e["name"] == "email_open"]
    assert len(opens) == 1  # the person's open only
