from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ga4 import Code, Limits, missing_session_params, validate, validate_text, validation_response

NOW = 1_790_000_000.0
HEX = "a" * 64


def _valid() -> dict[str, Any]:
    return {
        "client_id": "123456789.1700000000",
        "user_id": "rc_k1_abcdef",
        "timestamp_micros": int((NOW - 60) * 1e6),
        "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
        "user_properties": {"plan": {"value": "gold"}},
        "user_data": {"sha256_email_address": [HEX], "address": [{"sha256_first_name": HEX, "country": "DE"}]},
        "user_location": {"country_id": "DE", "region_id": "DE-BE", "continent_id": "150", "city": "Berlin"},
        "device": {"category": "mobile", "screen_resolution": "1280x2856"},
        "events": [
            {"name": "email_click", "params": {"session_id": "1790000000", "engagement_time_msec": 1, "campaign": "s"}},
            {"name": "purchase", "params": {"session_id": "1", "engagement_time_msec": 1, "transaction_id": "T1",
                                            "value": 19.99, "currency": "EUR",
                                            "items": [{"item_id": "SKU1", "price": 19.99, "quantity": 1}]}},
        ],
    }  # fmt: skip


def _codes(payload: Any, **options: Any) -> set[tuple[str, Code]]:
    return {(m.field_path, m.code) for m in validate(payload, now=NOW, **options)}


def test_a_valid_payload_has_no_messages() -> None:
    assert validate(_valid(), now=NOW) == []
    assert validation_response([]) == {"validationMessages": []}


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    payload = _valid()
    node: Any = payload
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return payload


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field", "code"),
    [
        (["client_id"], _DELETE, "client_id", Code.VALUE_REQUIRED),
        (["client_id"], "abc", "client_id", Code.VALUE_INVALID),
        (["client_id"], "0.123", "client_id", Code.VALUE_INVALID),
        (["user_id"], "x" * 257, "user_id", Code.VALUE_OUT_OF_BOUNDS),
        (["user_id"], "jane@example.com", "user_id", Code.VALUE_INVALID),
        (["unknown_field"], 1, "unknown_field", Code.NAME_INVALID),
        (["events"], _DELETE, "events", Code.VALUE_REQUIRED),
        (["events"], [], "events", Code.VALUE_REQUIRED),
        (["events"], [{"name": "e"}] * 26, "events", Code.EXCEEDED_MAX_ENTITIES),
        (["events", 0, "name"], "session_start", "events[0].name", Code.NAME_RESERVED),
        (["events", 0, "name"], "screen_view", "events[0].name", Code.NAME_RESERVED),
        (["events", 0, "name"], "ga_thing", "events[0].name", Code.NAME_RESERVED),
        (["events", 0, "name"], "1starts_with_digit", "events[0].name", Code.NAME_INVALID),
        (["events", 0, "name"], "has-dash", "events[0].name", Code.NAME_INVALID),
        (["events", 0, "name"], "e" * 41, "events[0].name", Code.NAME_INVALID),
        (["events", 0, "name"], _DELETE, "events[0].name", Code.VALUE_REQUIRED),
        (["events", 0, "params", "p" * 41], 1, "events[0].params." + "p" * 41, Code.NAME_INVALID),
        (["events", 0, "params", "firebase_conversion"], 1, "events[0].params.firebase_conversion", Code.NAME_RESERVED),
        (["events", 0, "params", "_private"], 1, "events[0].params._private", Code.NAME_RESERVED),
        (["events", 0, "params", "long"], "v" * 101, "events[0].params.long", Code.VALUE_OUT_OF_BOUNDS),
        (["events", 0, "params", "obj"], {"a": 1}, "events[0].params.obj", Code.VALUE_INVALID),
        (["events", 0, "params"], {f"p{i}": i for i in range(26)}, "events[0].params", Code.EXCEEDED_MAX_ENTITIES),
        (["events", 1, "params", "items", 0, "item_id"], _DELETE, "events[1].params.items[0].item_id",
         Code.VALUE_REQUIRED),
        (["events", 1, "params", "items", 0], {"item_id": "x", **{f"c{i}": i for i in range(11)}},
         "events[1].params.items[0]", Code.EXCEEDED_MAX_ENTITIES),
        (["timestamp_micros"], int((NOW - 73 * 3600) * 1e6), "timestamp_micros", Code.VALUE_OUT_OF_BOUNDS),
        (["timestamp_micros"], int((NOW + 3600) * 1e6), "timestamp_micros", Code.VALUE_INVALID),
        (["timestamp_micros"], "soon", "timestamp_micros", Code.VALUE_INVALID),
        (["events", 0, "timestamp_micros"], int((NOW - 80 * 3600) * 1e6), "events[0].timestamp_micros",
         Code.VALUE_OUT_OF_BOUNDS),
        (["user_properties"], {f"p{i}": {"value": i} for i in range(26)}, "user_properties",
         Code.EXCEEDED_MAX_ENTITIES),
        (["user_properties", "first_open_time"], {"value": 1}, "user_properties.first_open_time", Code.NAME_RESERVED),
        (["user_properties", "u" * 25], {"value": 1}, "user_properties." + "u" * 25, Code.NAME_INVALID),
        (["user_properties", "plan"], {"value": "v" * 37}, "user_properties.plan.value", Code.VALUE_OUT_OF_BOUNDS),
        (["user_properties", "plan"], {}, "user_properties.plan.value", Code.VALUE_REQUIRED),
        (["consent", "ad_user_data"], "YES", "consent.ad_user_data", Code.VALUE_INVALID),
        (["consent", "analytics_storage"], "GRANTED", "consent.analytics_storage", Code.NAME_INVALID),
        (["user_data", "sha256_email_address"], ["jane@example.com"], "user_data.sha256_email_address",
         Code.VALUE_INVALID),
        (["user_data", "address", 0, "country"], "Germany", "user_data.address[0].country", Code.VALUE_INVALID),
        (["user_location", "country_id"], "de", "user_location.country_id", Code.VALUE_INVALID),
        (["user_location", "continent_id"], "Europe", "user_location.continent_id", Code.VALUE_INVALID),
        (["device", "screen_resolution"], "big", "device.screen_resolution", Code.VALUE_INVALID),
        (["device", "gpu"], "x", "device.gpu", Code.NAME_INVALID),
        (["ip_override"], "not-an-ip", "ip_override", Code.VALUE_INVALID),
        (["validation_behavior"], "STRICT", "validation_behavior", Code.VALUE_INVALID),
    ],
)  # fmt: skip
def test_each_rule_names_its_field_and_code(path: list[Any], value: Any, field: str, code: Code) -> None:
    assert (field, code) in _codes(_with(path, value))


def test_body_size_limit() -> None:
    assert ("", Code.VALUE_OUT_OF_BOUNDS) in _codes(_valid(), body_size=130_000)
    big = _valid()
    big["events"] = [{"name": "e", "params": {f"p{i}": "v" * 500 for i in range(25)}} for _ in range(25)]
    assert _codes(big, limits=Limits(param_value_chars=500)) == {("", Code.VALUE_OUT_OF_BOUNDS)}  # 320 kB, GA4 360


def test_ga4_360_allows_longer_values() -> None:
    payload = _with(["events", 0, "params", "long"], "v" * 400)
    assert validate(payload, now=NOW, limits=Limits(param_value_chars=500)) == []


def test_duplicated_names_and_invalid_json_need_the_raw_text() -> None:
    body = (
        '{"client_id": "1.2", "events": [{"name": "a", "params": {"x": 1, "x": 2}}, {"name": "b", "params": {"x": 1}}]}'
    )
    messages = validate_text(body, now=NOW)
    assert [(m.field_path, m.code) for m in messages] == [("events[0].params.x", Code.NAME_DUPLICATED)]
    (broken,) = validate_text("{nope", now=NOW)
    assert (broken.field_path, broken.code) == ("", Code.VALUE_INVALID)


def test_the_answer_has_googles_shape() -> None:
    answer = validation_response(validate({"events": [{"name": "session_start"}]}, now=NOW))
    assert answer["validationMessages"]
    assert set(answer["validationMessages"][0]) == {"fieldPath", "description", "validationCode"}
    assert json.loads(json.dumps(answer)) == answer


def test_missing_session_params_are_reported() -> None:
    payload = _valid()
    assert missing_session_params(payload) == []
    del payload["events"][1]["params"]["engagement_time_msec"]
    assert missing_session_params(payload) == ["events[1].params.engagement_time_msec"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5),
    max_leaves=30,
)


@given(_json)
@settings(max_examples=300)
def test_never_raises_and_speaks_only_the_seven_codes(payload: Any) -> None:
    for message in validate(payload, now=time.time()):
        assert isinstance(message.code, Code)
        assert isinstance(message.field_path, str)


@given(st.sampled_from(["events", "client_id", "consent", "user_properties"]), _json)
def test_breaking_one_part_of_a_valid_payload_is_noticed_or_harmless(key: str, value: Any) -> None:
    payload = copy.deepcopy(_valid())
    payload[key] = value
    messages = validate(payload, now=NOW)
    if not messages:  # then the replacement must itself have been a valid value for that field
        assert validate({**_valid(), key: value}, now=NOW) == []
