"""Warehouse events as MP events, and MP events packed into requests."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent import ConsentPolicy, Purpose
from gateway.ga4 import validate
from gateway.ga4.batching import delivery_id, pack
from gateway.ga4.payloads import Outgoing, PayloadBuilder, Skip, standin_client_id
from gateway.ga4.transport import retry_after
from gateway.state.consent_link import ConsentLink
from tests.gateway.ga4.conftest import PSEUDONYMS, click, granting
from warehouse import EventRow

BUILDER = PayloadBuilder(PSEUDONYMS, consent=granting(), utm_source="news")


def server(name: str = "purchase", **fields: object) -> EventRow:
    now = datetime.now(UTC)
    base: dict = {"event_id": "sv-1", "event_time": now, "received_at": now, "event_name": name, "source": "server"}
    base.update(fields)
    return EventRow(**base)


def test_a_click_is_email_click_plus_campaign_details_with_session_and_campaign() -> None:
    built = BUILDER.build(click(3, recipient="sub-9", campaign="spring"))
    assert isinstance(built, Outgoing)
    names = [e["name"] for e in built.events]
    assert names == ["email_click", "campaign_details"]
    params = built.events[0]["params"]
    assert params == {"campaign_id": "spring", "campaign": "spring", "source": "news", "medium": "email",
                      "content": "3", "session_id": params["session_id"], "engagement_time_msec": 100}  # fmt: skip
    assert int(params["session_id"]) % 1800 == 0
    assert built.common["user_id"] == PSEUDONYMS.pseudonym("rc", "sub-9")
    assert "sub-9" not in json.dumps(built.body())
    assert re.fullmatch(r"[1-9][0-9]*\.[1-9][0-9]{9}", built.common["client_id"])
    assert built.common["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"}
    assert validate(built.body(), now=time.time()) == []


def test_the_real_client_id_wins_and_the_stand_in_is_stable() -> None:
    from dataclasses import replace

    row = click(1)
    with_cookie = replace(row, ga_client_id="42.1700000000")
    built = BUILDER.build(with_cookie)
    assert isinstance(built, Outgoing)
    assert built.common["client_id"] == "42.1700000000"
    assert standin_client_id("rc_x") == standin_client_id("rc_x") != standin_client_id("rc_y")
    garbage = BUILDER.build(replace(row, ga_client_id="jane@example.com"))
    assert isinstance(garbage, Outgoing)
    assert garbage.common["client_id"] == standin_client_id(garbage.common["user_id"])


@pytest.mark.parametrize(
    "client_id",
    ["0123456789.1700000000", "2b9f4c3e-8d1a-4f0e-9c6b-1a2b3c4d5e6f", "GA1.1.123.456", "42.1700000000"],
)
def test_a_client_id_google_accepts_is_relayed_as_given(client_id: str) -> None:
    """ga4mp's zero-padded ids and UUIDs became stand-ins, or, with no user id, were skipped as anonymous."""
    built = BUILDER.build(server("page_view", ga_client_id=client_id, source="mp"))
    assert isinstance(built, Outgoing)
    assert built.common["client_id"] == client_id


def test_anonymous_and_machine_hits_are_skipped_with_their_reason() -> None:
    from dataclasses import replace

    assert BUILDER.build(replace(click(1), recipient="")) == Skip("ev000001", "anonymous")
    assert BUILDER.build(replace(click(1), verdict="apple_mpp")) == Skip("ev000001", "machine")
    machines = PayloadBuilder(PSEUDONYMS, consent=granting(), verdicts=("apple_mpp",))
    assert isinstance(machines.build(replace(click(1), verdict="apple_mpp")), Outgoing)
    assert BUILDER.build(server(source="tracking-test")) == Skip("sv-1", "unsupported")


def test_the_shops_session_start_is_kept_for_attribution_and_never_relayed() -> None:
    # GA4 reserves the name and starts its own sessions: no request, under this name or another.
    for source in ("server", "mp"):
        row = server("session_start", source=source, ga_client_id="7.1700000000")
        assert BUILDER.build(row) == Skip("sv-1", "attribution_only")
    assert isinstance(BUILDER.build(server("page_view", ga_client_id="7.1700000000")), Outgoing)


def test_a_server_event_keeps_its_typed_params_and_its_consent() -> None:
    row = server(
        user_id="us_k1_abc", ga_client_id="7.1700000000", transaction_id="T-9", value=Decimal("5.5"),
        consent={"ad_user_data": "granted", "region": "DE"},
        params={"ga4_params": json.dumps({"transaction_id": "T-9", "value": 5.5, "currency": "EUR",
                                          "items": [{"item_id": "A", "quantity": 2}]})},
    )  # fmt: skip
    # Germany is opt-in: denied until granted, except what the policy grants (analytics) and the event states.
    policy = ConsentPolicy(granted_in_opt_in=frozenset({Purpose.ANALYTICS_STORAGE}))
    builder = PayloadBuilder(PSEUDONYMS, consent=ConsentLink(policy, PSEUDONYMS, loaded=True))
    built = builder.build(row)
    assert isinstance(built, Outgoing)
    [event] = built.events
    assert event["params"]["value"] == 5.5
    assert event["params"]["items"] == [{"item_id": "A", "quantity": 2}]
    assert event["params"]["engagement_time_msec"] == 100
    assert built.transaction_id == "T-9"
    assert built.common == {"client_id": "7.1700000000", "user_id": "us_k1_abc",
                            "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"}}  # fmt: skip
    assert BUILDER.build(server(ga_client_id="", user_id="")) == Skip("sv-1", "anonymous")


texts = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300)


@settings(max_examples=150, deadline=None)
@given(recipient=texts, campaign=texts, variant=st.text(max_size=50), link=st.text(max_size=50),
       seconds_ago=st.floats(0, 71 * 3600))  # fmt: skip
def test_every_email_event_built_is_valid_mp(recipient: str, campaign: str, variant: str, link: str,
                                             seconds_ago: float) -> None:  # fmt: skip
    from dataclasses import replace

    row = replace(click(1, at=time.time() - seconds_ago, recipient=recipient, campaign=campaign),
                  variant=variant, link_id=link)  # fmt: skip
    built = BUILDER.build(row)
    assert isinstance(built, Outgoing)
    assert validate(built.body(), now=time.time()) == []


def outgoing(i: int, person: int, events: int = 1, size: int = 10) -> Outgoing:
    common = {"client_id": f"{person + 1}.1700000000", "consent": {"ad_user_data": "DENIED"}}
    payload = tuple({"name": "page_view", "params": {"p": "x" * size, "n": i}} for _ in range(events))
    return Outgoing(f"e{i}", 1_700_000_000.0 + i, common, payload)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 3), st.integers(1, 99)), min_size=1, max_size=120))
def test_packing_keeps_the_limits_and_the_request_level_fields(specs: list[tuple[int, int, int]]) -> None:
    items = [outgoing(i, person, events, size * 100) for i, (person, events, size) in enumerate(specs)]
    deliveries = pack(items)
    assert sorted(e for d in deliveries for e in d.event_ids) == sorted(i.event_id for i in items)
    by_id = {i.event_id: i for i in items}
    for d in deliveries:
        body = json.loads(d.body)
        assert len(body["events"]) <= 25
        assert len(d.body.encode()) < 130_000
        assert {json.dumps(by_id[e].common, sort_keys=True) for e in d.event_ids} == {
            json.dumps({k: v for k, v in body.items() if k != "events"}, sort_keys=True)
        }
        assert body["events"] == [e for x in d.event_ids for e in by_id[x].events]  # order kept inside a person
        assert d.id == delivery_id(reversed(d.event_ids))
    assert [d.id for d in pack(items)] == [d.id for d in deliveries]  # the same events, the same requests


def test_delivery_ids_are_deterministic_and_replays_get_new_ones() -> None:
    assert delivery_id(["a", "b"]) == delivery_id(["b", "a"]) != delivery_id(["a"])
    assert delivery_id(["a", "b"], generation=3) != delivery_id(["a", "b"])


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1_700_000_000.0
    assert retry_after("7", now) == 7.0
    assert retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now) == 10.0
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None
