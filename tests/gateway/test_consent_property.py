"""Property: nothing a subject denied ever reaches the MP stand-in, whatever the decisions and their timing.

One real gateway and stand-in for all examples. Each example gives a few recipients random decisions
before their click and random decisions after it (taken while GA4 is away, so the relay has already
built the request with the earlier state), then lets GA4 come back and checks every request that
arrived against the recipient's final decisions. Each recipient has its own campaign, which is how an
arrived event is traced back to a recipient even when it carries nothing that identifies anybody.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent import Purpose
from gateway.ga4.ledger import Ledger
from gateway.ga4.standin import StandIn
from tests.conftest import LiveGateway, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import ga4_settings
from tests.gateway.test_consent_live import arrived, click, consent
from tests.gateway.test_identity_live import links, sql

pytestmark = pytest.mark.live

PURPOSES = [p.value for p in Purpose]
decision_sets = st.dictionaries(st.sampled_from(PURPOSES), st.sampled_from(["granted", "denied"]), max_size=5)
recipient = st.fixed_dictionaries(
    {"before": decision_sets, "after": decision_sets, "by": st.sampled_from(["subscriber", "email"]),
     "cookie": st.booleans()}
)  # fmt: skip
_numbers = itertools.count()


@pytest.fixture(scope="module")
def stand() -> Iterator[StandIn]:
    server = StandIn().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, stand: StandIn) -> Iterator[LiveGateway]:
    data = tmp_path_factory.mktemp("consent-property") / "data"
    # An unknown region counts as opt-in: what nobody decided is denied (email tracking: the personal link).
    gateway = start_gateway(data, GA4GW_PIPELINE_MAX_DELAY="0.1",
                            **{**ga4_settings(stand), "GA4GW_CONSENT_DEFAULT_REGION": ""})  # fmt: skip
    yield gateway
    gateway.stop()


def _subject(by: str, n: int) -> dict[str, str]:
    return {"subscriber": f"prop-{n}"} if by == "subscriber" else {"email": f"prop-{n}@example.com"}


def _decide(gw: LiveGateway, subject: dict[str, str], purposes: dict[str, str]) -> None:
    if purposes:
        assert consent(gw, {"subject": subject, "purposes": purposes}).status_code == 202


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(recipient, min_size=1, max_size=3))
def test_no_event_reaches_ga4_with_what_its_subject_denied(
    gw: LiveGateway, stand: StandIn, people: list[dict[str, Any]]
) -> None:
    stand.reset()
    numbers = [next(_numbers) for _ in people]
    stand.pause()  # GA4 away: requests are built from the state at the click, then wait
    try:
        sentinel = _clicks_then_decisions(gw, people, numbers)
    finally:
        stand.resume()
    ledger = Ledger(gw.data_dir / "ga4_ledger.sqlite3")
    wait_for(lambda: len(arrived(stand, f"prop-c{sentinel}")) == 2 and ledger.queued() == 0)
    ledger.close()
    for n, person in zip(numbers, people, strict=True):
        _check(person, arrived(stand, f"prop-c{n}"), f"{1000 + n}.1700000000")
    assert httpx.get(gw.url + "/healthz").status_code == 200


def _clicks_then_decisions(gw: LiveGateway, people: list[dict[str, Any]], numbers: list[int]) -> int:
    for n, person in zip(numbers, people, strict=True):
        _decide(gw, _subject(person["by"], n), person["before"])
        made = links(gw, recipient=f"prop-{n}", email=f"prop-{n}@example.com", campaign=f"prop-c{n}",
                     urls=["https://shop.example/p"])  # fmt: skip
        click(gw, made["links"][0]["tracked"], cookie=f"_ga=GA1.1.{1000 + n}.1700000000" if person["cookie"] else "")
    wait_for(lambda: sql(gw, f"SELECT count() FROM events WHERE campaign_id LIKE 'prop-c%' "
                             f"AND campaign_id IN ({','.join(repr(f'prop-c{n}') for n in numbers)})")
             == str(len(people)))  # fmt: skip
    for n, person in zip(numbers, people, strict=True):
        _decide(gw, _subject(person["by"], n), person["after"])
    # A sentinel recipient who granted everything: once its click arrives, intake has taken every click above.
    sentinel = next(_numbers)
    _decide(gw, {"subscriber": f"prop-{sentinel}"}, dict.fromkeys(PURPOSES, "granted"))
    made = links(gw, recipient=f"prop-{sentinel}", campaign=f"prop-c{sentinel}", urls=["https://shop.example/s"])
    click(gw, made["links"][0]["tracked"])
    return sentinel


def _check(person: dict[str, Any], events: list[tuple[dict[str, Any], dict[str, Any]]], cookie: str) -> None:
    final = {**person["before"], **person["after"]}
    if "denied" in (final.get("email_tracking"), person["before"].get("email_tracking")):
        assert events == [], person  # recorded anonymously (denied at the click), or withdrawn before the send
        return
    for body, _ in events:
        if final.get("analytics_storage") != "granted":
            assert "user_id" not in body, (person, body)
            assert body["client_id"] != cookie, (person, body)
        for signal in ("ad_user_data", "ad_personalization"):
            if final.get(signal) != "granted":
                assert body["consent"][signal] == "DENIED", (person, body)
    withdrawn = any(person["before"].get(p) != "denied" and v == "denied" for p, v in person["after"].items())
    if not withdrawn:  # nothing taken back after the click: the click went, as its consent allowed
        assert len(events) == 2, person
        if final.get("analytics_storage") == "granted" and person["before"].get("analytics_storage") == "granted":
            assert all("user_id" in body for body, _ in events), (person, events)
            if person["cookie"]:
                assert all(body["client_id"] == cookie for body, _ in events), (person, events)
