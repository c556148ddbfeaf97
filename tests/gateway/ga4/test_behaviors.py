"""``validation_behavior``: RELAXED refuses only malformed requests, ENFORCE_RECOMMENDATIONS the collection limits
too; the gateway's own rules can be named and turned off; the relay sends what RELAXED collection takes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ga4 import Behavior, Code, behavior_of, validate, validate_text
from tests.gateway.ga4.conftest import Rig, append, wait_for
from warehouse import EventRow

NOW = 1_790_000_000.0
SESSION = {"session_id": "1790000000", "engagement_time_msec": 1}
STRICT = Behavior.ENFORCE_RECOMMENDATIONS


def _body(**parts: Any) -> dict[str, Any]:
    return {"client_id": "123.456", "events": [{"name": "page_view", "params": dict(SESSION)}], **parts}


def _found(payload: Any, **options: Any) -> set[tuple[str, Code]]:
    return {(m.field_path, m.code) for m in validate(payload, now=NOW, **options)}


def test_the_body_chooses_its_behaviour_and_the_argument_overrides_it() -> None:
    long_name = _body(events=[{"name": "e" * 41, "params": SESSION}])
    assert behavior_of(long_name) is Behavior.RELAXED
    assert _found(long_name) == set()
    assert _found({**long_name, "validation_behavior": "ENFORCE_RECOMMENDATIONS"}) == {("events", Code.NAME_INVALID)}
    assert _found(long_name, behavior=STRICT) == {("events", Code.NAME_INVALID)}
    assert _found({**long_name, "validation_behavior": "ENFORCE_RECOMMENDATIONS"}, behavior=Behavior.RELAXED) == set()
    # an unknown behaviour is itself an error, and the body is judged RELAXED
    assert _found({**long_name, "validation_behavior": "STRICT"}) == {("validation_behavior", Code.VALUE_INVALID)}


@pytest.mark.parametrize(
    ("payload", "path", "code"),
    [
        (_body(client_id="6f9619ff-8b86-d011-b42d-00c04fc964ff"), "client_id", Code.VALUE_INVALID),
        (_body(user_id="u" * 257), "user_id", Code.VALUE_OUT_OF_BOUNDS),
        (_body(timestamp_micros=int((NOW - 73 * 3600) * 1e6)), "timestamp_micros", Code.VALUE_OUT_OF_BOUNDS),
        (_body(events=[{"name": "page_view", "params": {**SESSION, "c": "v" * 101}}]), "events[0].params.c",
         Code.VALUE_OUT_OF_BOUNDS),
        (_body(events=[{"name": "page_view", "params": {f"p{i}": i for i in range(26)}}]), "events[0].params",
         Code.EXCEEDED_MAX_ENTITIES),
        (_body(user_properties={"plan": {"value": "v" * 37}}), "user_properties.plan.value", Code.VALUE_OUT_OF_BOUNDS),
        (_body(user_location={"country_id": "de"}), "user_location.country_id", Code.VALUE_INVALID),
        (_body(device={"screen_resolution": "big"}), "device.screen_resolution", Code.VALUE_INVALID),
    ],
)  # fmt: skip
def test_collection_limits_and_formats_are_refused_only_when_enforcing(payload: Any, path: str, code: Code) -> None:
    assert _found(payload) == set()
    assert _found(payload, behavior=STRICT) == {(path, code)}


@pytest.mark.parametrize(
    ("payload", "path", "code"),
    [
        (_body(events=[{"name": "1st", "params": SESSION}]), "events", Code.NAME_INVALID),
        (_body(events=[{"name": "first_visit", "params": SESSION}]), "events", Code.NAME_RESERVED),
        (_body(events=[{"name": "page_view", "params": {**SESSION, "o": {"a": 1}}}]), "events[0].params.o",
         Code.VALUE_INVALID),
        (_body(consent={"ad_user_data": "yes"}), "consent.ad_user_data", Code.VALUE_INVALID),
        (_body(unknown=1), "", Code.VALUE_INVALID),
        (_body(client_id=7), "client_id", Code.VALUE_INVALID),
        ({"events": [{"name": "page_view"}]}, "client_id", Code.VALUE_REQUIRED),
    ],
)  # fmt: skip
def test_malformed_requests_are_refused_under_both_behaviours(payload: Any, path: str, code: Code) -> None:
    assert _found(payload) == {(path, code)}
    assert _found(payload, behavior=STRICT) == {(path, code)}


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=120)
_keys = st.sampled_from(
    ["client_id", "user_id", "timestamp_micros", "events", "name", "params", "items", "item_id", "price", "value",
     "page_location", "user_properties", "consent", "user_location", "country_id", "device", "ip_override",
     "validation_behavior", "ad_user_data"]
)  # fmt: skip
_shaped = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys | st.text(max_size=45), inner, max_size=6),
    max_leaves=40,
)


@given(_shaped)
@settings(max_examples=300, deadline=None)
def test_whatever_relaxed_refuses_enforcing_refuses_too(payload: Any) -> None:
    """ENFORCE_RECOMMENDATIONS only adds rules: it never forgets a message RELAXED gives."""
    relaxed = validate(payload, now=NOW, behavior=Behavior.RELAXED)
    strict = validate(payload, now=NOW, behavior=STRICT)
    assert set(relaxed) <= set(strict)


def test_the_gateway_rules_are_named_and_can_be_turned_off() -> None:
    email = _body(user_id="jane@example.com")
    assert _found(email) == {("user_id", Code.VALUE_INVALID)}
    assert _found(email, privacy_rules=False) == set()
    huge = _body(events=[{"name": "purchase", "params": {**SESSION, "value": 1e13, "currency": "EUR",
                                                          "items": [{"item_id": "A", "price": -1e13}]}}])  # fmt: skip
    assert _found(huge) == {("events[0].params.value", Code.VALUE_OUT_OF_BOUNDS),
                            ("events[0].params.items[0].price", Code.VALUE_OUT_OF_BOUNDS)}  # fmt: skip
    assert _found(huge, storage_rules=False) == set()
    assert _found(_body(ip_override="nowhere")) == {("ip_override", Code.VALUE_INVALID)}
    assert _found(_body(ip_override="nowhere"), storage_rules=False) == set()
    # Google's own refusal of an item price it cannot convert stays, whatever the gateway's rules
    dollars = _body(events=[{"name": "purchase", "params": {**SESSION, "items": [{"item_id": "A", "price": "$19"}]}}])
    assert _found(dollars, storage_rules=False) == {("events[0].params.items[0].price", Code.VALUE_INVALID)}


def test_raw_user_data_is_for_a_caller_that_hashes_it_itself() -> None:
    raw = _body(user_id="u-1", user_data={"sha256_email_address": [" Jane.Doe@gmail.com "],
                                          "address": [{"sha256_first_name": "Jane", "country": "DE"}]})  # fmt: skip
    assert _found(raw) == {("user_data.sha256_email_address[0]", Code.VALUE_INVALID),
                           ("user_data.address[0].sha256_first_name", Code.VALUE_INVALID)}  # fmt: skip
    assert _found(raw, raw_user_data=True) == set()
    not_text = _body(user_data={"sha256_email_address": [42]})
    assert _found(not_text, raw_user_data=True) == {("user_data.sha256_email_address[0]", Code.VALUE_INVALID)}


def test_validate_text_takes_the_same_options() -> None:
    body = json.dumps(_body(user_id="jane@example.com", client_id="abc"))
    assert validate_text(body, now=NOW, privacy_rules=False) == []
    assert [m.field_path for m in validate_text(body, now=NOW, behavior=STRICT, privacy_rules=False)] == ["client_id"]


def test_a_message_without_a_path_has_no_field_path_key() -> None:
    [message] = validate_text(b"{nope", now=NOW)
    assert message.as_json() == {"description": message.description, "validationCode": "VALUE_INVALID"}
    assert message.description.startswith("Unable to parse Measurement Protocol JSON payload.")


def test_the_relay_sends_what_relaxed_collection_takes(rig: Rig) -> None:
    """A long page URL, title and referrer, and an item with 27 custom params, used to be dead letters."""
    page = "https://shop.example/c/" + "a" * 600
    params = {"page_location": page, "page_title": "T" * 250, "page_referrer": page[:400],
              "items": [{"item_id": "SKU", **{f"custom_{i}": i for i in range(27)}}]}  # fmt: skip
    moment = datetime.fromtimestamp(time.time(), UTC)
    row = EventRow(event_id="ev-long", event_time=moment, received_at=moment, event_name="view_item", source="mp",
                   user_id="us_k1_test", params={"ga4_params": json.dumps(params)})  # fmt: skip
    rig.start()
    append(rig.outbox, [row])
    wait_for(lambda: any(e["name"] == "view_item" for _, e in rig.standin.events()))
    [(_, event)] = [(body, e) for body, e in rig.standin.events() if e["name"] == "view_item"]
    assert event["params"]["page_location"] == page
    assert len(event["params"]["items"][0]) == 28
    status = rig.ledger().status(max_age=72 * 3600)
    assert status.deliveries["dead"] == 0
