"""The local Measurement Protocol validator: every limit and reserved name of the reference, Google's answer format."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.ga4 import (
    Behavior,
    Code,
    Limits,
    ValidationMessage,
    missing_session_params,
    validate,
    validate_text,
    validation_response,
)
from gateway.ga4.reserved import (
    RESERVED_EVENTS,
    RESERVED_PREFIXES,
    RESERVED_USER_PROPERTIES,
    STANDARD_ITEM_FIELDS,
    USER_PROPERTY_PREFIXES,
)

NOW = 1_790_000_000.0
HEX = hashlib.sha256(b"jane.doe@example.com").hexdigest()
MICROS = int(NOW * 1_000_000)
HOUR = 3600 * 1_000_000


def _valid() -> dict[str, Any]:
    """A payload using every part of the body, valid in every part."""
    return {
        "client_id": "123456789.1700000000",
        "user_id": "rc_k1_abcdef",
        "timestamp_micros": MICROS - 60_000_000,
        "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
        "user_properties": {"plan": {"value": "gold", "timestamp_micros": MICROS - HOUR}},
        "user_data": {
            "sha256_email_address": [HEX],
            "sha256_phone_number": [HEX],
            "address": [{"sha256_first_name": HEX, "sha256_street": HEX, "city": "berlin", "country": "DE"}],
        },
        "user_location": {"country_id": "DE", "region_id": "DE-BE", "continent_id": "150", "city": "Berlin"},
        "device": {"category": "mobile", "screen_resolution": "1280x2856", "browser": "Chrome"},
        "ip_override": "203.0.113.9",
        "user_agent": "Mozilla/5.0",
        "validation_behavior": "ENFORCE_RECOMMENDATIONS",
        "non_personalized_ads": False,
        "events": [
            {"name": "email_click", "timestamp_micros": MICROS - 5_000_000,
             "params": {"session_id": "1790000000", "engagement_time_msec": 1, "campaign": "s", "value": 1.5,
                        "debug_mode": True}},
            {"name": "purchase", "params": {"session_id": "1", "engagement_time_msec": 1, "transaction_id": "T1",
                                            "value": 19.99, "currency": "EUR",
                                            "items": [{"item_id": "SKU1", "price": 19.99, "quantity": 1}]}},
        ],
    }  # fmt: skip


def _found(payload: Any, **options: Any) -> set[tuple[str, Code]]:
    return {(m.field_path, m.code) for m in validate(payload, now=NOW, **options)}


_DELETE = object()


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    """The valid payload with one place changed (or deleted)."""
    payload = _valid()
    node: Any = payload
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return payload


def test_a_payload_valid_in_every_part_has_no_messages() -> None:
    payload = _valid()
    assert validate(payload, now=NOW) == []
    assert validate_text(json.dumps(payload), now=NOW) == []
    assert validation_response([]) == {"validationMessages": []}
    assert payload == _valid()  # and validating does not touch it


E = "events[0]"
P = "events[0].params"
ITEM = "events[1].params.items[0]"
UP = "user_properties"


@pytest.mark.parametrize(
    ("path", "value", "field", "code"),
    [
        # the body
        (["unknown_field"], 1, "", Code.VALUE_INVALID),  # Google's parser: no path
        # client_id and user_id
        (["client_id"], _DELETE, "client_id", Code.VALUE_REQUIRED),
        (["client_id"], "abc", "client_id", Code.VALUE_INVALID),
        (["client_id"], "123", "client_id", Code.VALUE_INVALID),
        (["client_id"], "1.2.3", "client_id", Code.VALUE_INVALID),
        (["client_id"], "١٢٣.٤٥٦", "client_id", Code.VALUE_INVALID),  # Arabic-Indic digits are not digits here
        (["client_id"], 123.456, "client_id", Code.VALUE_INVALID),
        (["user_id"], "x" * 257, "user_id", Code.VALUE_OUT_OF_BOUNDS),
        (["user_id"], "jane@example.com", "user_id", Code.VALUE_INVALID),
        (["user_id"], "Jane Doe <jane.doe@mail.example.co.uk>", "user_id", Code.VALUE_INVALID),
        (["user_id"], 42, "user_id", Code.VALUE_INVALID),
        (["user_id"], "", "user_id", Code.VALUE_INVALID),
        (["app_instance_id"], 7, "app_instance_id", Code.VALUE_INVALID),
        # events
        (["events"], _DELETE, "events", Code.VALUE_REQUIRED),
        (["events"], [], "events", Code.VALUE_REQUIRED),
        (["events"], {"name": "a"}, "events", Code.VALUE_INVALID),
        (["events"], [{"name": "e"}] * 26, "events", Code.EXCEEDED_MAX_ENTITIES),
        (["events", 0], "email_click", E, Code.VALUE_INVALID),
        (["events", 0, "label"], "x", "", Code.VALUE_INVALID),
        # event names
        (["events", 0, "name"], _DELETE, "events", Code.VALUE_REQUIRED),  # Google: names at "events"
        (["events", 0, "name"], "", "events", Code.VALUE_REQUIRED),
        (["events", 0, "name"], 5, "events", Code.VALUE_INVALID),
        (["events", 0, "name"], "e" * 41, "events", Code.NAME_INVALID),
        (["events", 0, "name"], "1starts_with_digit", "events", Code.NAME_INVALID),
        (["events", 0, "name"], "has-dash", "events", Code.NAME_INVALID),
        (["events", 0, "name"], "has space", "events", Code.NAME_INVALID),
        (["events", 0, "name"], "émail_click", "events", Code.NAME_INVALID),
        # params
        (["events", 0, "params"], ["session_id"], P, Code.VALUE_INVALID),
        (["events", 0, "params"], "session_id=1", P, Code.VALUE_INVALID),
        (["events", 0, "params"], {f"p{i}": i for i in range(26)}, P, Code.EXCEEDED_MAX_ENTITIES),
        (["events", 0, "params", "p" * 41], 1, f"{P}.{'p' * 41}", Code.NAME_INVALID),
        (["events", 0, "params", "bad-name"], 1, f"{P}.bad-name", Code.NAME_INVALID),
        (["events", 0, "params", "long"], "v" * 101, f"{P}.long", Code.VALUE_OUT_OF_BOUNDS),
        (["events", 0, "params", "obj"], {"a": 1}, f"{P}.obj", Code.VALUE_INVALID),
        (["events", 0, "params", "list"], [1, 2], f"{P}.list", Code.VALUE_INVALID),
        (["events", 0, "params", "nothing"], None, f"{P}.nothing", Code.VALUE_INVALID),
        (["events", 0, "params", "nan"], float("nan"), f"{P}.nan", Code.VALUE_INVALID),
        (["events", 0, "params", "inf"], float("inf"), f"{P}.inf", Code.VALUE_INVALID),
        # items
        (["events", 1, "params", "items"], {"item_id": "x"}, "events[1].params.items", Code.VALUE_INVALID),
        (["events", 1, "params", "items", 0], "SKU1", ITEM, Code.VALUE_INVALID),
        (["events", 1, "params", "items", 0, "item_id"], _DELETE, f"{ITEM}.item_id", Code.VALUE_REQUIRED),
        (["events", 1, "params", "items", 0, "item_id"], "", f"{ITEM}.item_id", Code.VALUE_REQUIRED),
        (["events", 1, "params", "items", 0], {"item_id": "x", **{f"c{i}": i for i in range(28)}}, ITEM,
         Code.EXCEEDED_MAX_ENTITIES),
        (["events", 1, "params", "items", 0, "google_x"], "1", f"{ITEM}.google_x", Code.NAME_RESERVED),
        (["events", 1, "params", "items", 0, "bad name"], "1", f"{ITEM}.bad name", Code.NAME_INVALID),
        (["events", 1, "params", "items", 0, "item_brand"], "b" * 101, f"{ITEM}.item_brand", Code.VALUE_OUT_OF_BOUNDS),
        (["events", 1, "params", "items", 0, "colour"], {"r": 1}, f"{ITEM}.colour", Code.VALUE_INVALID),
        # timestamps, request level and per event
        (["timestamp_micros"], MICROS - 72 * HOUR - 1, "timestamp_micros", Code.VALUE_OUT_OF_BOUNDS),
        (["timestamp_micros"], MICROS + 61_000_000, "timestamp_micros", Code.VALUE_INVALID),
        (["timestamp_micros"], "soon", "timestamp_micros", Code.VALUE_INVALID),
        (["timestamp_micros"], "²", "timestamp_micros", Code.VALUE_INVALID),  # str.isdigit() says yes; int() raises
        (["timestamp_micros"], 0, "timestamp_micros", Code.VALUE_INVALID),
        (["timestamp_micros"], -5, "timestamp_micros", Code.VALUE_INVALID),
        (["timestamp_micros"], True, "timestamp_micros", Code.VALUE_INVALID),
        (["timestamp_micros"], float(MICROS), "timestamp_micros", Code.VALUE_INVALID),
        (["timestamp_micros"], 10**400, "timestamp_micros", Code.VALUE_INVALID),  # no float overflow
        (["events", 0, "timestamp_micros"], MICROS - 80 * HOUR, f"{E}.timestamp_micros", Code.VALUE_OUT_OF_BOUNDS),
        (["events", 0, "timestamp_micros"], MICROS + HOUR, f"{E}.timestamp_micros", Code.VALUE_INVALID),
        # user properties
        ([UP], ["plan"], UP, Code.VALUE_INVALID),
        ([UP], {f"p{i}": {"value": i} for i in range(26)}, UP, Code.EXCEEDED_MAX_ENTITIES),
        ([UP, "u" * 25], {"value": 1}, f"{UP}.{'u' * 25}", Code.NAME_INVALID),
        ([UP, "1plan"], {"value": 1}, f"{UP}.1plan", Code.NAME_INVALID),
        ([UP, "plan"], {"value": "v" * 37}, f"{UP}.plan.value", Code.VALUE_OUT_OF_BOUNDS),
        ([UP, "plan"], {}, f"{UP}.plan.value", Code.VALUE_REQUIRED),
        ([UP, "plan"], {"value": None}, f"{UP}.plan.value", Code.VALUE_REQUIRED),
        ([UP, "plan"], {"value": [1]}, f"{UP}.plan.value", Code.VALUE_INVALID),
        ([UP, "plan"], "gold", f"{UP}.plan", Code.VALUE_INVALID),
        ([UP, "plan", "label"], "x", "", Code.VALUE_INVALID),
        ([UP, "plan", "timestamp_micros"], MICROS - 73 * HOUR, f"{UP}.plan.timestamp_micros", Code.VALUE_OUT_OF_BOUNDS),
        # consent
        (["consent"], "GRANTED", "consent", Code.VALUE_INVALID),
        (["consent", "ad_user_data"], "YES", "consent.ad_user_data", Code.VALUE_INVALID),
        (["consent", "ad_user_data"], "granted", "consent.ad_user_data", Code.VALUE_INVALID),
        (["consent", "ad_user_data"], ["GRANTED"], "consent.ad_user_data", Code.VALUE_INVALID),  # unhashable
        (["consent", "analytics_storage"], "GRANTED", "", Code.VALUE_INVALID),
        # user_data: hashed, never plain text
        (["user_data"], [HEX], "user_data", Code.VALUE_INVALID),
        (["user_data", "sha256_email_address"], ["jane@example.com"], "user_data.sha256_email_address[0]",
         Code.VALUE_INVALID),
        (["user_data", "sha256_email_address"], [HEX, HEX.upper()], "user_data.sha256_email_address[1]",
         Code.VALUE_INVALID),
        (["user_data", "sha256_email_address"], HEX, "user_data.sha256_email_address", Code.VALUE_INVALID),
        (["user_data", "sha256_phone_number"], ["+491701234567"], "user_data.sha256_phone_number[0]",
         Code.VALUE_INVALID),
        (["user_data", "sha256_phone_number"], [HEX[:63]], "user_data.sha256_phone_number[0]", Code.VALUE_INVALID),
        (["user_data", "email_address"], ["jane@example.com"], "", Code.VALUE_INVALID),
        (["user_data", "address"], {"city": "berlin"}, "user_data.address", Code.VALUE_INVALID),
        (["user_data", "address", 0], "Unter den Linden 1", "user_data.address[0]", Code.VALUE_INVALID),
        (["user_data", "address", 0, "sha256_street"], "Unter den Linden 1", "user_data.address[0].sha256_street",
         Code.VALUE_INVALID),
        (["user_data", "address", 0, "first_name"], "Jane", "", Code.VALUE_INVALID),
        (["user_data", "address", 0, "city"], 10115, "user_data.address[0].city", Code.VALUE_INVALID),
        (["user_data", "address", 0, "country"], "Germany", "user_data.address[0].country", Code.VALUE_INVALID),
        (["user_data", "address", 0, "country"], "de", "user_data.address[0].country", Code.VALUE_INVALID),
        # user_location
        (["user_location"], "DE", "user_location", Code.VALUE_INVALID),
        (["user_location", "country_id"], "de", "user_location.country_id", Code.VALUE_INVALID),
        (["user_location", "country_id"], "DEU", "user_location.country_id", Code.VALUE_INVALID),
        (["user_location", "region_id"], "BE", "user_location.region_id", Code.VALUE_INVALID),
        (["user_location", "region_id"], "US-CALI", "user_location.region_id", Code.VALUE_INVALID),
        (["user_location", "continent_id"], "Europe", "user_location.continent_id", Code.VALUE_INVALID),
        (["user_location", "subcontinent_id"], 155, "user_location.subcontinent_id", Code.VALUE_INVALID),
        (["user_location", "city"], 1, "user_location.city", Code.VALUE_INVALID),
        (["user_location", "latitude"], "52.5", "", Code.VALUE_INVALID),
        # device
        (["device"], "mobile", "device", Code.VALUE_INVALID),
        (["device", "screen_resolution"], "big", "device.screen_resolution", Code.VALUE_INVALID),
        (["device", "screen_resolution"], "1280*720", "device.screen_resolution", Code.VALUE_INVALID),
        (["device", "category"], 1, "device.category", Code.VALUE_INVALID),
        (["device", "gpu"], "x", "", Code.VALUE_INVALID),
        # the small ones
        (["ip_override"], "not-an-ip", "ip_override", Code.VALUE_INVALID),
        (["ip_override"], "999.1.1.1", "ip_override", Code.VALUE_INVALID),
        (["ip_override"], "fe80::1%eth0", "ip_override", Code.VALUE_INVALID),
        (["ip_override"], 3232235777, "ip_override", Code.VALUE_INVALID),  # ipaddress would take the int
        (["user_agent"], 5, "user_agent", Code.VALUE_INVALID),
        (["validation_behavior"], "STRICT", "validation_behavior", Code.VALUE_INVALID),
        (["non_personalized_ads"], "yes", "non_personalized_ads", Code.VALUE_INVALID),
    ],
)  # fmt: skip
def test_each_rule_names_its_field_and_code_and_nothing_else(
    path: list[Any], value: Any, field: str, code: Code
) -> None:
    assert _found(_with(path, value)) == {(field, code)}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["user_id"], "u" * 256),
        (["events"], [{"name": "e"}] * 25),
        (["events", 0, "name"], "e" * 40),
        (["events", 0, "name"], "Mixed_Case_9"),
        (["events", 0, "name"], "Session_Start"),  # names are case-sensitive: only session_start is reserved
        (["events", 0, "params"], {f"p{i}": i for i in range(25)}),
        (["events", 0, "params", "p" * 40], "v" * 100),
        (["events", 0, "params"], None),  # params are optional
        (["events", 1, "params", "items", 0], {"item_name": "Shoe", **{f"c{i}": i for i in range(27)}}),
        (["client_id"], "0.123"),  # "<number>.<number>": zero and leading zeros are numbers
        (
            ["events", 1, "params", "items", 0],
            {**dict.fromkeys(STANDARD_ITEM_FIELDS, "x"), "price": "9.99", "quantity": 2, "c0": 1},
        ),
        (["timestamp_micros"], MICROS - 72 * HOUR),
        (["timestamp_micros"], MICROS + 60_000_000),  # a sender's clock slightly ahead
        (["timestamp_micros"], str(MICROS)),  # the integer may come as a string
        ([UP], {f"p{i}": {"value": i} for i in range(25)}),
        ([UP, "u" * 24], {"value": "v" * 36}),
        ([UP, "flag"], {"value": False}),
        (["user_data", "sha256_email_address"], []),
        (["user_location", "subcontinent_id"], "155"),
        (["user_location", "region_id"], "US-CA"),
        (["ip_override"], "2001:db8::1"),
        (["validation_behavior"], "RELAXED"),
        (["non_personalized_ads"], True),
        (["app_instance_id"], "f8e2c0a1b2d34e5f8a9b0c1d2e3f4a5b"),
    ],
)
def test_values_at_their_limits_pass(path: list[Any], value: Any) -> None:
    assert validate(_with(path, value), now=NOW) == []


# the reference's list, plus the three for app streams only
_REFERENCE_EVENTS = (
    "ad_activeview", "ad_click", "ad_exposure", "ad_query", "ad_reward", "adunit_exposure", "app_clear_data",
    "app_exception", "app_install", "app_remove", "app_store_refund", "app_update", "app_upgrade",
    "dynamic_link_app_open", "dynamic_link_app_update", "dynamic_link_first_open", "error", "firebase_campaign",
    "firebase_in_app_message_action", "firebase_in_app_message_dismiss", "firebase_in_app_message_impression",
    "first_open", "first_visit", "notification_dismiss", "notification_foreground", "notification_open",
    "notification_receive", "notification_send", "os_update", "session_start", "user_engagement",
    "ad_impression", "in_app_purchase", "screen_view",
)  # fmt: skip


@pytest.mark.parametrize("name", [*_REFERENCE_EVENTS, "firebase_x", "ga_x", "google_x", "gtag.config"])
def test_reserved_event_names_and_prefixes(name: str) -> None:
    assert _found(_with(["events", 0, "name"], name)) == {("events", Code.NAME_RESERVED)}  # Google's path


@pytest.mark.parametrize("name", ["firebase_conversion", "firebase_x", "ga_session_id", "google_x", "gtag.x"])
def test_reserved_param_names_and_prefixes(name: str) -> None:
    assert _found(_with(["events", 0, "params", name], 1)) == {(f"{P}.{name}", Code.NAME_RESERVED)}


@pytest.mark.parametrize(
    "name",
    ["first_open_time", "first_visit_time", "last_deep_link_referrer", "user_id", "first_open_after_install",
     "firebase_x", "ga_x", "google_x"],
)  # fmt: skip
def test_reserved_user_property_names_and_prefixes(name: str) -> None:
    assert _found(_with([UP, name], {"value": 1})) == {(f"{UP}.{name}", Code.NAME_RESERVED)}


def test_a_name_starting_with_an_underscore_is_invalid_before_it_is_reserved() -> None:
    """Google's own example: ``_badEventName`` is NAME_INVALID, though ``_`` is also a reserved prefix."""
    assert _found(_with(["events", 0, "name"], "_private")) == {("events", Code.NAME_INVALID)}
    assert _found(_with(["events", 0, "params", "_x"], 1)) == {(f"{P}._x", Code.NAME_INVALID)}
    assert _found(_with([UP, "_x"], {"value": 1})) == {(f"{UP}._x", Code.NAME_INVALID)}


def test_the_body_must_be_an_object() -> None:
    bodies: list[object] = [[], "events", 3, None]
    for body in bodies:
        assert _found(body) == {("", Code.VALUE_INVALID)}


def test_every_top_level_key_of_the_reference_is_accepted() -> None:
    payload = {**_valid(), "app_instance_id": "a" * 32}
    assert validate(payload, now=NOW) == []


def test_client_id_is_required_only_for_web_streams() -> None:
    payload = _with(["client_id"], _DELETE)
    assert validate(payload, now=NOW, require_client_id=False) == []


def test_the_email_refusal_says_why() -> None:
    (message,) = validate(_with(["user_id"], "jane@example.com"), now=NOW)
    assert "raw personal identifiers" in message.description


def test_plain_text_user_data_is_refused_with_the_hashing_rule() -> None:
    (message,) = validate(_with(["user_data", "sha256_email_address"], ["jane@example.com"]), now=NOW)
    assert "SHA-256" in message.description
    assert "never plain text" in message.description


def test_body_size_limit() -> None:
    assert _found(_valid(), body_size=130_000) == {("", Code.VALUE_OUT_OF_BOUNDS)}
    assert _found(_valid(), body_size=129_999) == set()
    big = _valid()
    big["events"] = [{"name": "e", "params": {f"p{i}": "v" * 500 for i in range(25)}} for _ in range(25)]
    assert _found(big, limits=Limits(param_value_chars=500)) == {("", Code.VALUE_OUT_OF_BOUNDS)}  # 320 kB, GA4 360


def test_the_computed_size_is_the_compact_utf8_json_httpx_sends() -> None:
    payload = _with(["events", 0, "params", "title"], "Grüße aus Köln ✉")
    size = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    assert _found(payload, limits=Limits(body_bytes=size)) == {("", Code.VALUE_OUT_OF_BOUNDS)}
    assert _found(payload, limits=Limits(body_bytes=size + 1)) == set()


def test_a_payload_json_cannot_carry_is_invalid_not_a_crash() -> None:
    payload = _with(["events", 0, "params", "tags"], {"a", "b"})
    assert _found(payload) == {("", Code.VALUE_INVALID), (f"{P}.tags", Code.VALUE_INVALID)}
    looped = _valid()
    looped["events"][0]["params"]["self"] = looped
    assert ("", Code.VALUE_INVALID) in _found(looped)


def test_limits_are_configurable_for_ga4_360() -> None:
    payload = _with(["events", 0, "params", "long"], "v" * 500)
    assert validate(payload, now=NOW, limits=Limits(param_value_chars=500)) == []
    assert _found(payload) == {(f"{P}.long", Code.VALUE_OUT_OF_BOUNDS)}


def test_name_checks_follow_the_limits_given() -> None:
    """Names are checked through a cache: a verdict under one limit must not leak into another."""
    payload = _with(["events", 0, "name"], "e" * 45)
    assert _found(payload) == {("events", Code.NAME_INVALID)}
    assert validate(payload, now=NOW, limits=Limits(event_name_chars=45)) == []
    assert _found(payload) == {("events", Code.NAME_INVALID)}


def test_timestamps_are_judged_against_the_clock_passed_in() -> None:
    payload = _with(["timestamp_micros"], MICROS - 71 * HOUR)
    assert validate(payload, now=NOW) == []
    later = {(m.field_path, m.code) for m in validate(payload, now=NOW + 2 * 3600)}
    assert later == {("timestamp_micros", Code.VALUE_OUT_OF_BOUNDS)}


def test_validation_response_has_googles_shape() -> None:
    answer = validation_response(validate({"events": [{"name": "session_start"}]}, now=NOW))
    assert answer == {
        "validationMessages": [
            {"fieldPath": "client_id", "description": "client_id is required for web streams",
             "validationCode": "VALUE_REQUIRED"},
            {"fieldPath": "events", "validationCode": "NAME_RESERVED",
             "description": "Event at index: [0] has reserved name [session_start]. Google Analytics reserves it."},
        ]
    }  # fmt: skip
    assert json.loads(json.dumps(answer)) == answer


def test_the_codes_are_googles_seven() -> None:
    assert {code.value for code in Code} == {
        "VALUE_INVALID", "VALUE_REQUIRED", "NAME_INVALID", "NAME_RESERVED", "VALUE_OUT_OF_BOUNDS",
        "EXCEEDED_MAX_ENTITIES", "NAME_DUPLICATED",
    }  # fmt: skip


# -- the raw text: duplicated names and broken JSON


def _text_found(body: str | bytes, **options: Any) -> list[tuple[str, Code]]:
    return [(m.field_path, m.code) for m in validate_text(body, now=NOW, **options)]


def _body(**parts: str) -> str:
    """A valid body as text, with raw JSON text spliced into its first event and the top level."""
    event = parts.get("event", '"name": "email_click", "params": {"session_id": "1", "engagement_time_msec": 1}')
    top = parts.get("top", '"client_id": "1.2"')
    return f'{{{top}, "events": [{{{event}}}, {{"name": "b", "params": {{"x": 1}}}}]}}'


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        (_body(event='"name": "a", "params": {"x": 1, "x": 2}'), ["events[0].params.x"]),
        (_body(event='"name": "a", "name": "b"'), ["events[0].name"]),
        (_body(top='"client_id": "1.2", "client_id": "3.4"'), ["client_id"]),
        (_body(event='"name": "a", "params": {"x": 1, "x": 2, "x": 3}'), ["events[0].params.x"]),  # once
        (_body(event='"name": "a", "params": {"items": [{"item_id": "a"}, {"item_id": "b", "item_id": "c"}]}'),
         ["events[0].params.items[1].item_id"]),
        (_body(top='"client_id": "1.2", "user_properties": {"p": {"value": 1}, "p": {"value": 2}}'),
         ["user_properties.p"]),
        (_body(top='"client_id": "1.2", "consent": {"ad_user_data": "DENIED", "ad_user_data": "GRANTED"}, '
                   '"user_properties": {"a": {"value": 1, "value": 2}}'),
         ["consent.ad_user_data", "user_properties.a.value"]),  # document order
        # the first, overwritten object had its own duplicate: it is gone, only the outer name is reported
        (_body(top='"client_id": "1.2", "user_properties": {"p": {"value": 1, "value": 2}}, '
                   '"user_properties": {"q": {"value": 1}, "p": {"value": 2}}'),
         ["user_properties"]),
    ],
)  # fmt: skip
def test_duplicated_names_are_found_in_the_text(body: str, paths: list[str]) -> None:
    assert _text_found(body) == [(path, Code.NAME_DUPLICATED) for path in paths]


def test_the_same_name_in_different_objects_is_not_a_duplicate() -> None:
    assert _text_found(_body(event='"name": "a", "params": {"x": 1}')) == []


def test_duplicates_come_first_then_the_rest_of_the_validation() -> None:
    body = _body(top='"client_id": "1.2", "client_id": "bad", "validation_behavior": "ENFORCE_RECOMMENDATIONS"')
    assert _text_found(body) == [("client_id", Code.NAME_DUPLICATED), ("client_id", Code.VALUE_INVALID)]


@pytest.mark.parametrize(
    "body",
    ["{nope", "", "   ", b"\xff\xfe\x00garbage", '{"events": [{"name": "a", "params": {"v": NaN}}]}',
     '{"client_id": "1.2", "events": [{"name": "a"}]} trailing', "[" * 100_000 + "]" * 100_000],
)  # fmt: skip
def test_invalid_json_is_one_value_invalid_at_the_root(body: str | bytes) -> None:
    assert _text_found(body) == [("", Code.VALUE_INVALID)]


def test_the_text_size_is_the_body_size() -> None:
    body = _body()
    padded = body[:-1] + " " * (130_000 - len(body)) + "}"  # whitespace counts: it is sent
    assert len(padded.encode()) == 130_000
    assert _text_found(padded) == [("", Code.VALUE_OUT_OF_BOUNDS)]
    assert _text_found(padded.encode()[:-2] + b"}") == []


def test_validate_text_passes_its_options_on() -> None:
    body = json.dumps({"events": [{"name": "e" * 45}]})
    assert _text_found(body) == [("client_id", Code.VALUE_REQUIRED)]  # RELAXED: a long name is no refusal
    strict = {"behavior": Behavior.ENFORCE_RECOMMENDATIONS}
    assert _text_found(body, **strict) == [("client_id", Code.VALUE_REQUIRED), ("events", Code.NAME_INVALID)]
    assert _text_found(body, require_client_id=False, limits=Limits(event_name_chars=45), **strict) == []


# -- session params: not Google's rule, the relay's


def test_missing_session_params_are_reported_but_not_a_validation_error() -> None:
    payload = _valid()
    assert missing_session_params(payload) == []
    del payload["events"][1]["params"]["engagement_time_msec"]
    payload["events"].append({"name": "email_open"})
    assert missing_session_params(payload) == [
        "events[1].params.engagement_time_msec",
        "events[2].params.session_id",
        "events[2].params.engagement_time_msec",
    ]
    assert validate(payload, now=NOW) == []  # Google's validator accepts them


_BOTH = ["events[0].params.session_id", "events[0].params.engagement_time_msec"]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(None, []), ([], []), ({"events": "x"}, []), ({"events": ["x"]}, _BOTH), ({"events": [{"params": []}]}, _BOTH),
     ({"events": [{"params": {"session_id": None, "engagement_time_msec": 1}}]}, _BOTH[:1])],
)  # fmt: skip
def test_missing_session_params_takes_anything(payload: Any, expected: list[str]) -> None:
    assert missing_session_params(payload) == expected


# -- properties

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5),
    max_leaves=40,
)
# the keys the validator looks at, so that arbitrary values land where they are checked
_known_keys = st.sampled_from(
    ["client_id", "user_id", "timestamp_micros", "user_properties", "consent", "user_data", "user_location",
     "ip_override", "device", "user_agent", "validation_behavior", "non_personalized_ads", "events", "name",
     "params", "items", "item_id", "value", "address", "country", "ad_user_data", "sha256_email_address"]
)  # fmt: skip
_shaped = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_known_keys | st.text(max_size=8), inner, max_size=6),
    max_leaves=40,
)


def _assert_well_formed(messages: list[ValidationMessage]) -> None:
    for message in messages:
        assert isinstance(message.code, Code)
        assert isinstance(message.field_path, str)
        assert message.description
        keys = {"description", "validationCode"} | ({"fieldPath"} if message.field_path else set())
        assert set(message.as_json()) == keys  # Google gives no fieldPath where it has none


@given(_json | _shaped)
@settings(max_examples=400)
def test_validate_never_raises_and_speaks_only_the_seven_codes(payload: Any) -> None:
    _assert_well_formed(validate(payload, now=NOW))


@given(st.dictionaries(_known_keys, _shaped, max_size=8))
@settings(max_examples=300)
def test_validate_never_raises_on_bodies_shaped_like_mp(payload: dict[str, Any]) -> None:
    _assert_well_formed(validate(payload, now=NOW))


@given(st.text(max_size=200) | st.binary(max_size=200) | _shaped.map(json.dumps))
@settings(max_examples=300)
def test_validate_text_never_raises(body: str | bytes) -> None:
    _assert_well_formed(validate_text(body, now=NOW))


# -- a strategy for valid payloads, within every limit

_PARAM_RESERVED = ("firebase_conversion", "items")  # items is valid, but only as a list of objects


def _names(max_chars: int, reserved: frozenset[str] | tuple[str, ...], prefixes: tuple[str, ...]) -> Any:
    pattern = rf"[A-Za-z][A-Za-z0-9_]{{0,{max_chars - 1}}}"
    return st.from_regex(pattern, fullmatch=True).filter(lambda n: n not in reserved and not n.startswith(prefixes))


_event_names = _names(40, RESERVED_EVENTS, RESERVED_PREFIXES)
_param_names = _names(40, _PARAM_RESERVED, RESERVED_PREFIXES)
_text = st.text(st.characters(codec="utf-8"), max_size=100)
_micros = st.integers(MICROS - 72 * HOUR, MICROS + 60_000_000)
_timestamps = _micros | _micros.map(str)
_scalars = _text | st.integers(-(10**15), 10**15) | st.floats(allow_nan=False, allow_infinity=False) | st.booleans()
_AMOUNT_NAMES = ("value", "price", "quantity")  # numbers the warehouse can keep (amount_problem)
_amounts = st.integers(-(10**11), 10**11) | st.floats(-1e11, 1e11) | st.decimals(-(10**11), 10**11, places=2).map(str)
_custom_item_params = st.dictionaries(_param_names.filter(lambda n: n not in STANDARD_ITEM_FIELDS), _scalars,
                                      max_size=10)  # fmt: skip
_items = st.lists(
    st.builds(
        lambda key, ident, standard, custom: {**custom, **standard, key: ident},
        st.sampled_from(["item_id", "item_name"]),
        st.text(min_size=1, max_size=100),
        st.dictionaries(st.sampled_from(sorted(STANDARD_ITEM_FIELDS - set(_AMOUNT_NAMES))), _scalars, max_size=5)
        | st.dictionaries(st.sampled_from(["price", "quantity"]), _amounts, max_size=2),
        _custom_item_params,
    ),
    max_size=5,
)
_params = st.builds(
    lambda params, items: {**params, **({"items": items} if items is not None else {})},
    st.dictionaries(_param_names.filter(lambda n: n not in _AMOUNT_NAMES), _scalars, max_size=23)
    | st.dictionaries(st.just("value"), _amounts, max_size=1),
    st.none() | _items,
)
_events = st.lists(
    st.fixed_dictionaries({"name": _event_names}, optional={"params": _params, "timestamp_micros": _timestamps}),
    min_size=1,
    max_size=25,
)
_user_properties = st.dictionaries(
    _names(24, RESERVED_USER_PROPERTIES, USER_PROPERTY_PREFIXES),
    st.fixed_dictionaries(
        {"value": st.text(max_size=36) | st.integers() | st.booleans()}, optional={"timestamp_micros": _timestamps}
    ),
    max_size=25,
)
_hex = st.binary().map(lambda b: hashlib.sha256(b).hexdigest())
_address = st.fixed_dictionaries(
    {},
    optional={
        "sha256_first_name": _hex, "sha256_last_name": _hex, "sha256_street": _hex, "city": st.text(),
        "region": st.text(), "postal_code": st.text(), "country": st.from_regex("[A-Z]{2}", fullmatch=True),
    },
)  # fmt: skip
_signals = st.sampled_from(["GRANTED", "DENIED"])
_payloads = st.fixed_dictionaries(
    {
        "client_id": st.builds("{}.{}".format, st.integers(1, 10**12), st.integers(1, 10**12)),
        "events": _events,
    },
    optional={
        "user_id": st.text(st.characters(codec="utf-8", exclude_characters="@"), min_size=1, max_size=256),
        "timestamp_micros": _timestamps,
        "user_properties": _user_properties,
        "consent": st.fixed_dictionaries({}, optional={"ad_user_data": _signals, "ad_personalization": _signals}),
        "user_data": st.fixed_dictionaries(
            {},
            optional={
                "sha256_email_address": st.lists(_hex, max_size=3),
                "sha256_phone_number": st.lists(_hex, max_size=3),
                "address": st.lists(_address, max_size=2),
            },
        ),
        "user_location": st.fixed_dictionaries(
            {},
            optional={
                "city": st.text(),
                "country_id": st.from_regex("[A-Z]{2}", fullmatch=True),
                "region_id": st.from_regex("[A-Z]{2}-[A-Z0-9]{1,3}", fullmatch=True),
                "continent_id": st.from_regex("[0-9]{3}", fullmatch=True),
                "subcontinent_id": st.from_regex("[0-9]{3}", fullmatch=True),
            },
        ),
        "device": st.fixed_dictionaries(
            {},
            optional={
                "category": st.sampled_from(["desktop", "mobile", "tablet"]),
                "language": st.text(),
                "screen_resolution": st.from_regex("[0-9]{1,5}x[0-9]{1,5}", fullmatch=True),
                "operating_system": st.text(),
                "browser": st.text(),
                "browser_version": st.text(),
            },
        ),
        "ip_override": st.ip_addresses().map(str),
        "user_agent": st.text(),
        "validation_behavior": st.sampled_from(["RELAXED", "ENFORCE_RECOMMENDATIONS"]),
        "non_personalized_ads": st.booleans(),
    },
)


def _size(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


_slow = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@given(_payloads)
@_slow
def test_a_generated_valid_payload_has_no_messages(payload: dict[str, Any]) -> None:
    assume(_size(payload) < 130_000)  # every other limit holds by construction; this one only jointly
    assert validate(payload, now=NOW) == []
    assert validate_text(json.dumps(payload), now=NOW) == []


# Each mutation breaks one field of a valid payload past one limit and says where and with which code.
Mutation = Callable[[dict[str, Any], st.DataObject], tuple[str, Code]]


def _an_event(payload: dict[str, Any], data: st.DataObject) -> tuple[int, dict[str, Any]]:
    i = data.draw(st.integers(0, len(payload["events"]) - 1), label="event")
    return i, payload["events"][i]


def _long_event_name(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    _, event = _an_event(payload, data)
    event["name"] = "e" + data.draw(st.from_regex("[a-z0-9_]{40,80}", fullmatch=True))
    return "events", Code.NAME_INVALID  # Google's path for an event's name, the index in the description


def _reserved_event_name(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    _, event = _an_event(payload, data)
    event["name"] = data.draw(st.sampled_from(sorted(RESERVED_EVENTS)) | st.sampled_from(RESERVED_PREFIXES[1:]).map(
        lambda prefix: prefix + "event"))  # fmt: skip
    return "events", Code.NAME_RESERVED


def _reserved_param(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    i, event = _an_event(payload, data)
    name = data.draw(st.sampled_from(RESERVED_PREFIXES[1:])) + "param"  # "_": NAME_INVALID, a letter comes first
    event.setdefault("params", {})[name] = 1
    return f"events[{i}].params.{name}", Code.NAME_RESERVED


def _long_param_value(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    i, event = _an_event(payload, data)
    params = event.setdefault("params", {})
    # params with rules of their own first: amounts must be numbers, page_* may be longer, currency is a code
    plain = set(params) - {"items", "currency", "page_location", "page_referrer", "page_title", *_AMOUNT_NAMES}
    name = data.draw(st.sampled_from(sorted(plain))) if plain else "content"
    params[name] = data.draw(st.text(min_size=101, max_size=300))
    return f"events[{i}].params.{name}", Code.VALUE_OUT_OF_BOUNDS


def _too_many_params(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    i, event = _an_event(payload, data)
    event["params"] = {f"p{n}": n for n in range(data.draw(st.integers(26, 40)))}
    return f"events[{i}].params", Code.EXCEEDED_MAX_ENTITIES


def _too_many_events(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    payload["events"] += [{"name": "filler"}] * (data.draw(st.integers(26, 40)) - len(payload["events"]))
    return "events", Code.EXCEEDED_MAX_ENTITIES


def _old_event(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    i, event = _an_event(payload, data)
    event["timestamp_micros"] = data.draw(st.integers(1, MICROS - 72 * HOUR - 1))
    return f"events[{i}].timestamp_micros", Code.VALUE_OUT_OF_BOUNDS


def _future_event(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    i, event = _an_event(payload, data)
    event["timestamp_micros"] = data.draw(st.integers(MICROS + 60_000_001, MICROS * 2))
    return f"events[{i}].timestamp_micros", Code.VALUE_INVALID


def _too_many_items_params(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    i, event = _an_event(payload, data)
    extra = data.draw(st.integers(28, 40))
    event.setdefault("params", {})["items"] = [{"item_id": "x", **{f"c{n}": n for n in range(extra)}}]
    return f"events[{i}].params.items[0]", Code.EXCEEDED_MAX_ENTITIES


def _long_user_property(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    name = data.draw(_names(24, RESERVED_USER_PROPERTIES, USER_PROPERTY_PREFIXES))
    payload.setdefault("user_properties", {})[name] = {"value": data.draw(st.text(min_size=37, max_size=100))}
    return f"user_properties.{name}.value", Code.VALUE_OUT_OF_BOUNDS


def _long_user_property_name(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    name = "u" + data.draw(st.from_regex("[a-z0-9_]{24,40}", fullmatch=True))
    payload.setdefault("user_properties", {})[name] = {"value": 1}
    return f"user_properties.{name}", Code.NAME_INVALID


def _too_many_user_properties(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    payload["user_properties"] = {f"p{n}": {"value": n} for n in range(data.draw(st.integers(26, 40)))}
    return "user_properties", Code.EXCEEDED_MAX_ENTITIES


def _no_client_id(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    del payload["client_id"]
    return "client_id", Code.VALUE_REQUIRED


def _email_user_id(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    payload["user_id"] = data.draw(st.emails().filter(lambda e: len(e) <= 256))
    return "user_id", Code.VALUE_INVALID


def _bad_consent(payload: dict[str, Any], data: st.DataObject) -> tuple[str, Code]:
    key = data.draw(st.sampled_from(["ad_user_data", "ad_personalization"]))
    payload["consent"] = {key: data.draw(st.text().filter(lambda v: v not in ("GRANTED", "DENIED")))}
    return f"consent.{key}", Code.VALUE_INVALID


_MUTATIONS: list[Mutation] = [
    _long_event_name, _reserved_event_name, _reserved_param, _long_param_value, _too_many_params, _too_many_events,
    _old_event, _future_event, _too_many_items_params, _long_user_property, _long_user_property_name,
    _too_many_user_properties, _no_client_id, _email_user_id, _bad_consent,
]  # fmt: skip


@given(_payloads, st.sampled_from(_MUTATIONS), st.data())
@_slow
def test_breaking_one_field_past_its_limit_is_reported_there(
    payload: dict[str, Any], mutate: Mutation, data: st.DataObject
) -> None:
    path, code = mutate(payload, data)
    found = {(m.field_path, m.code) for m in validate(payload, now=NOW, behavior=Behavior.ENFORCE_RECOMMENDATIONS)}
    assert (path, code) in found


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("bad", Code.VALUE_INVALID),  # Google takes it and counts a purchase worth nothing; we refuse it
        ([1], Code.VALUE_INVALID),
        (1e12, Code.VALUE_OUT_OF_BOUNDS),  # the warehouse keeps Decimal(18, 6)
        (-1e30, Code.VALUE_OUT_OF_BOUNDS),
        ("1e400", Code.VALUE_OUT_OF_BOUNDS),
        ("NaN", Code.VALUE_INVALID),
    ],
)
def test_amounts_must_be_numbers_the_warehouse_can_keep(value: Any, code: Code) -> None:
    for path in (["events", 0, "params", "value"], ["events", 1, "params", "items", 0, "price"],
                 ["events", 1, "params", "items", 0, "quantity"]):  # fmt: skip
        [message] = validate(_with(path, value), now=NOW)
        assert message.code is code
        assert message.field_path == ".".join(str(p) for p in path).replace(".0.", "[0].").replace(".1.", "[1].")


@pytest.mark.parametrize("value", [59.9, 0, -5, "59.90", " 12 ", 999_999_999_999.99, "999999999999.999999"])
def test_amounts_that_fit_pass(value: Any) -> None:
    assert validate(_with(["events", 0, "params", "value"], value), now=NOW) == []
