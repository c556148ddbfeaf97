"""A local Measurement Protocol validator that answers like Google's validation server.

Google's collect endpoint answers 2xx even for data it silently drops, so the relay checks every
payload here before sending it. The answer speaks the vocabulary of ``/debug/mp/collect``: a list
of ``{"fieldPath", "description", "validationCode"}`` with Google's seven codes, empty when the
payload is valid, so tools and people who know Google's server read ours without translation.

Field paths follow Google's style: object keys joined by dots, list positions in brackets, ``""``
for the body itself. Examples: ``events``, ``events[0].name``, ``events[0].params.value``,
``events[1].params.items[2].item_id``, ``user_properties.plan.value``, ``consent.ad_user_data``,
``user_data.sha256_email_address[0]``, ``user_data.address[0].country``. A name that is itself
wrong (unknown, reserved, too long) is reported at its own path, e.g. ``events[0].params._x``;
a count over its limit at the object or list that holds too many, e.g. ``events[0].params``.

Stricter than Google, on purpose (our local policy): a ``user_id`` that looks like an email is
refused, since raw personal identifiers must never reach GA4, and ``user_data`` must really be
SHA-256 hex, never plain text.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

from .messages import DEFAULT_LIMITS, Code, Limits, ValidationMessage, validation_response
from .reserved import (
    DEVICE_KEYS,
    RESERVED_EVENTS,
    RESERVED_PARAMS,
    RESERVED_PREFIXES,
    RESERVED_USER_PROPERTIES,
    STANDARD_ITEM_FIELDS,
    TOP_LEVEL_KEYS,
    USER_PROPERTY_PREFIXES,
)

__all__ = ["DEFAULT_LIMITS", "MAX_AMOUNT", "Code", "Limits", "ValidationMessage", "amount_problem",
           "missing_session_params", "validate", "validation_response"]  # fmt: skip

# The warehouse keeps ``value`` as Decimal(18, 6): twelve digits before the point. A larger amount was once
# accepted and then refused by every insert, holding up everything behind it.
MAX_AMOUNT = Decimal(10) ** 12
_AMOUNTS = frozenset({"value", "price", "quantity"})  # the params GA4 reads as numbers (value: revenue)


_CLOCK_SKEW_SECONDS = 60  # a sender's clock a little ahead of ours is not an error

# Always fullmatch, and [0-9] rather than \d: Unicode digits are not digits to Google.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_CLIENT_ID = re.compile(r"[1-9][0-9]*\.[1-9][0-9]*")
_INTEGER = re.compile(r"[0-9]{1,20}")  # bounded: int() of thousands of digits raises
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_M49 = re.compile(r"[0-9]{3}")

_Rule: TypeAlias = tuple[re.Pattern[str] | None, str]  # a string's pattern (None: any string), its description
_TEXT: _Rule = (None, "a string")
_HASH: _Rule = (_SHA256, "the lowercase SHA-256 hex digest of the normalised value: never plain text")
_ISO_COUNTRY: _Rule = (_COUNTRY, "an ISO 3166-1 alpha-2 code, like DE")
# The small objects whose every field is a string of some form: unknown keys are NAME_INVALID.
_CONSENT: dict[str, _Rule] = dict.fromkeys(
    ("ad_user_data", "ad_personalization"), (re.compile("GRANTED|DENIED"), "GRANTED or DENIED")
)
_ADDRESS: dict[str, _Rule] = {
    **dict.fromkeys(("sha256_first_name", "sha256_last_name", "sha256_street"), _HASH),
    **dict.fromkeys(("city", "region", "postal_code"), _TEXT),
    "country": _ISO_COUNTRY,
}
_LOCATION: dict[str, _Rule] = {
    "city": _TEXT,
    "country_id": _ISO_COUNTRY,
    "region_id": (re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}"), "an ISO 3166-2 code, like US-CA"),
    "continent_id": (_M49, "a UN M49 code, like 150"),
    "subcontinent_id": (_M49, "a UN M49 code, like 155"),
}
_DEVICE: dict[str, _Rule] = {
    **dict.fromkeys(DEVICE_KEYS, _TEXT),
    "screen_resolution": (re.compile("[0-9]+x[0-9]+"), "like 1280x2856"),
}
_BEHAVIOR: _Rule = (re.compile("RELAXED|ENFORCE_RECOMMENDATIONS"), "RELAXED or ENFORCE_RECOMMENDATIONS")

_EVENT_KEYS = frozenset({"name", "params", "timestamp_micros"})
_USER_PROPERTY_KEYS = frozenset({"value", "timestamp_micros"})
_USER_DATA_LISTS = frozenset({"sha256_email_address", "sha256_phone_number", "address"})
_SESSION_PARAMS = ("session_id", "engagement_time_msec")
_NameRules: TypeAlias = tuple[frozenset[str], tuple[str, ...]]  # reserved names, reserved prefixes
_EVENT_NAMES = (RESERVED_EVENTS, RESERVED_PREFIXES)
_PARAM_NAMES = (RESERVED_PARAMS, RESERVED_PREFIXES)
_USER_PROPERTY_NAMES = (RESERVED_USER_PROPERTIES, USER_PROPERTY_PREFIXES)


@functools.lru_cache(maxsize=4096)
def _name_problem(name: object, max_chars: int, rules: _NameRules) -> tuple[str, Code] | None:
    """What is wrong with a name (a dict key, so hashable), if anything; cached: the same few names come every time.

    Reserved wins over malformed: it is the more useful thing to tell a sender.
    """
    if not isinstance(name, str):
        return "a name must be a string", Code.NAME_INVALID
    if name in rules[0] or name.startswith(rules[1]):
        return f"{name!r} is reserved by Google Analytics", Code.NAME_RESERVED
    if len(name) > max_chars or not _NAME.fullmatch(name):
        return f"{name!r}: up to {max_chars} letters, digits or underscores, starting with a letter", Code.NAME_INVALID
    return None


def _value_problem(value: object, max_chars: int) -> tuple[str, Code] | None:
    """A param or property value: a string up to ``max_chars``, a finite number or a boolean."""
    if isinstance(value, str):
        if len(value) > max_chars:
            return f"{len(value)} characters; at most {max_chars}", Code.VALUE_OUT_OF_BOUNDS
    elif isinstance(value, float):
        if not math.isfinite(value):
            return "NaN and infinities are not JSON numbers", Code.VALUE_INVALID
    elif not isinstance(value, int):  # bool is an int
        return "must be a string, a number or a boolean", Code.VALUE_INVALID
    return None


def amount_problem(value: object) -> tuple[str, Code] | None:
    """An amount (``value``, an item's ``price`` or ``quantity``): a number, or a string holding one, that the
    warehouse can keep. Stricter than Google's server, which takes ``"bad"`` and counts a purchase worth nothing."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return "must be a number", Code.VALUE_INVALID
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        return f"must be a number, not {str(value)[:20]!r}", Code.VALUE_INVALID
    if not amount.is_finite():
        return "must be a finite number", Code.VALUE_INVALID
    if abs(amount) >= MAX_AMOUNT:
        return "must be under 1,000,000,000,000 in size", Code.VALUE_OUT_OF_BOUNDS
    return None


def _param_problem(name: object, value: object, max_chars: int) -> tuple[str, Code] | None:
    problem = _value_problem(value, max_chars)
    return problem if problem or name not in _AMOUNTS else amount_problem(value)


class _Check:
    """Walks one payload and collects its messages; the small checks every part of the body shares."""

    __slots__ = ("limits", "messages", "newest_micros", "oldest_micros")

    def __init__(self, now: float, limits: Limits) -> None:
        self.limits = limits
        self.messages: list[ValidationMessage] = []
        # integer bounds: a huge timestamp compared as a float would overflow
        self.newest_micros = int((now + _CLOCK_SKEW_SECONDS) * 1_000_000)
        self.oldest_micros = int((now - limits.max_age_seconds) * 1_000_000)

    def add(self, path: str, description: str, code: Code) -> None:
        self.messages.append(ValidationMessage(path, description, code))

    def mapping(self, path: str, value: object) -> dict[Any, Any]:
        """The value if it is an object; otherwise one VALUE_INVALID and ``{}``, so there is nothing inside."""
        if isinstance(value, dict):
            return value
        self.add(path, "must be an object", Code.VALUE_INVALID)
        return {}

    def known(self, path: str, obj: dict[Any, Any], allowed: frozenset[str] | dict[str, Any]) -> None:
        for key in obj:
            if key not in allowed:
                self.add(f"{path}.{key}" if path else str(key), f"unknown field {key!r}", Code.NAME_INVALID)

    def count(self, path: str, count: int, limit: int, what: str) -> None:
        if count > limit:
            self.add(path, f"{count} {what}; at most {limit}", Code.EXCEEDED_MAX_ENTITIES)

    def timestamp(self, path: str, value: object) -> None:
        micros = int(value) if isinstance(value, str) and _INTEGER.fullmatch(value) else value
        if not isinstance(micros, int) or isinstance(micros, bool) or micros <= 0:
            self.add(path, "must be a positive whole number of microseconds since the epoch", Code.VALUE_INVALID)
        elif micros > self.newest_micros:
            self.add(path, "is in the future", Code.VALUE_INVALID)
        elif micros < self.oldest_micros:
            self.add(path, f"is more than {self.limits.max_age_seconds / 3600:g} hours in the past",
                     Code.VALUE_OUT_OF_BOUNDS)  # fmt: skip

    def string(self, path: str, value: object, rule: _Rule = _TEXT) -> None:
        pattern, what = rule
        if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
            self.add(path, f"must be {what}", Code.VALUE_INVALID)

    def strings(self, path: str, value: object, rules: dict[str, _Rule]) -> None:
        """An object of known fields, each a string of its own form."""
        obj = self.mapping(path, value)
        self.known(path, obj, rules)
        for key, field in obj.items():
            if key in rules:
                self.string(f"{path}.{key}", field, rules[key])


def validate(
    payload: object,
    *,
    now: float,
    limits: Limits = DEFAULT_LIMITS,
    require_client_id: bool = True,
    body_size: int | None = None,
) -> list[ValidationMessage]:
    """Every problem of a parsed MP body, named as Google's validation server would (empty: valid).

    ``now`` is epoch seconds (timestamps are judged against it); ``require_client_id`` is for web
    streams, which need one; ``body_size`` is the serialised size in bytes when the caller knows
    it, else the size of the compact UTF-8 JSON that httpx sends. Never raises.
    """
    check = _Check(now, limits)
    if not isinstance(payload, dict):
        check.add("", "the body must be a JSON object", Code.VALUE_INVALID)
        return check.messages
    size = body_size if body_size is not None else _serialised_size(payload)
    if size is None:
        check.add("", "the body cannot be serialised as JSON", Code.VALUE_INVALID)
    elif size >= limits.body_bytes:
        check.add("", f"the body is {size} bytes; it must be under {limits.body_bytes}", Code.VALUE_OUT_OF_BOUNDS)
    check.known("", payload, TOP_LEVEL_KEYS)
    _identity(check, payload, require_client_id)
    if "timestamp_micros" in payload:
        check.timestamp("timestamp_micros", payload["timestamp_micros"])
    _events(check, payload.get("events"))
    if payload.get("user_properties") is not None:
        _user_properties(check, payload["user_properties"])
    if payload.get("user_data") is not None:
        _user_data(check, payload["user_data"])
    for key, rules in (("consent", _CONSENT), ("user_location", _LOCATION), ("device", _DEVICE)):
        if payload.get(key) is not None:
            check.strings(key, payload[key], rules)
    for key, rule in (("app_instance_id", _TEXT), ("user_agent", _TEXT), ("validation_behavior", _BEHAVIOR)):
        if payload.get(key) is not None:
            check.string(key, payload[key], rule)
    if payload.get("ip_override") is not None and not _is_ip(payload["ip_override"]):
        check.add("ip_override", "must be an IPv4 or IPv6 address", Code.VALUE_INVALID)
    if "non_personalized_ads" in payload and not isinstance(payload["non_personalized_ads"], bool):
        check.add("non_personalized_ads", "must be a boolean (deprecated: use consent)", Code.VALUE_INVALID)
    return check.messages


def _serialised_size(payload: dict[Any, Any]) -> int | None:
    try:
        return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, RecursionError):  # not JSON: sets, bytes, cycles...
        return None


def _is_ip(value: object) -> bool:
    try:  # a scoped IPv6 (fe80::1%eth0) says nothing about geography
        return isinstance(value, str) and "%" not in value and bool(ipaddress.ip_address(value))
    except ValueError:
        return False


def _identity(check: _Check, payload: dict[Any, Any], require_client_id: bool) -> None:
    client_id = payload.get("client_id")
    if client_id is not None:
        check.string("client_id", client_id, (_CLIENT_ID, "two positive integers joined by a dot, like 123.1700000000"))
    elif require_client_id:
        check.add("client_id", "client_id is required for web streams", Code.VALUE_REQUIRED)
    user_id = payload.get("user_id")
    if user_id is None:
        return
    if not isinstance(user_id, str) or not user_id:
        check.add("user_id", "must be a non-empty string", Code.VALUE_INVALID)
    elif len(user_id) > check.limits.user_id_chars:
        check.add("user_id", f"{len(user_id)} characters; at most {check.limits.user_id_chars}",
                  Code.VALUE_OUT_OF_BOUNDS)  # fmt: skip
    elif _EMAIL.search(user_id):
        check.add("user_id", "looks like an email: raw personal identifiers are not allowed (local policy)",
                  Code.VALUE_INVALID)  # fmt: skip


def _events(check: _Check, events: object) -> None:
    if events is None or events == []:
        check.add("events", "at least one event is required", Code.VALUE_REQUIRED)
        return
    if not isinstance(events, list):
        check.add("events", "must be a list of events", Code.VALUE_INVALID)
        return
    limits = check.limits
    check.count("events", len(events), limits.events_per_request, "events in one request")
    for i, event in enumerate(events):
        path = f"events[{i}]"
        if not isinstance(event, dict):
            check.add(path, "an event must be an object", Code.VALUE_INVALID)
            continue
        check.known(path, event, _EVENT_KEYS)
        name = event.get("name")
        if name is None or name == "":
            check.add(f"{path}.name", "the event name is required", Code.VALUE_REQUIRED)
        elif not isinstance(name, str):
            check.add(f"{path}.name", "the event name must be a string", Code.VALUE_INVALID)
        elif problem := _name_problem(name, limits.event_name_chars, _EVENT_NAMES):
            check.add(f"{path}.name", *problem)
        if "timestamp_micros" in event:
            check.timestamp(f"{path}.timestamp_micros", event["timestamp_micros"])
        if event.get("params") is not None:
            _params(check, f"{path}.params", event["params"])


def _params(check: _Check, path: str, value: object) -> None:
    params = check.mapping(path, value)
    limits = check.limits
    check.count(path, len(params), limits.params_per_event, "params")
    for name, param in params.items():  # paths are only built for a message: this loop is the hot one
        if problem := _name_problem(name, limits.param_name_chars, _PARAM_NAMES):
            check.add(f"{path}.{name}", *problem)
        if name == "items":
            _items(check, f"{path}.items", param)
        elif problem := _param_problem(name, param, limits.param_value_chars):
            check.add(f"{path}.{name}", *problem)


def _items(check: _Check, path: str, items: object) -> None:
    """``items`` is the one param that holds objects; only non-standard item fields count as custom."""
    if not isinstance(items, list):
        check.add(path, "items must be a list of objects", Code.VALUE_INVALID)
        return
    limits = check.limits
    for i, item in enumerate(items):
        here = f"{path}[{i}]"
        if not isinstance(item, dict):
            check.add(here, "an item must be an object", Code.VALUE_INVALID)
            continue
        if item.get("item_id") in (None, "") and item.get("item_name") in (None, ""):
            check.add(f"{here}.item_id", "an item needs item_id or item_name", Code.VALUE_REQUIRED)
        custom = 0
        for key, field in item.items():
            if key not in STANDARD_ITEM_FIELDS:
                custom += 1
                if problem := _name_problem(key, limits.param_name_chars, _PARAM_NAMES):
                    check.add(f"{here}.{key}", *problem)
            if problem := _param_problem(key, field, limits.param_value_chars):
                check.add(f"{here}.{key}", *problem)
        check.count(here, custom, limits.item_custom_params, "custom item params")


def _user_properties(check: _Check, value: object) -> None:
    properties = check.mapping("user_properties", value)
    limits = check.limits
    check.count("user_properties", len(properties), limits.user_properties, "user properties")
    for name, entry in properties.items():
        here = f"user_properties.{name}"
        if problem := _name_problem(name, limits.user_property_name_chars, _USER_PROPERTY_NAMES):
            check.add(here, *problem)
        if not isinstance(entry, dict):
            check.add(here, 'a user property is an object: {"value": ...}', Code.VALUE_INVALID)
            continue
        check.known(here, entry, _USER_PROPERTY_KEYS)
        if entry.get("value") is None:
            check.add(f"{here}.value", 'a user property needs {"value": ...}', Code.VALUE_REQUIRED)
        elif problem := _value_problem(entry["value"], limits.user_property_value_chars):
            check.add(f"{here}.value", *problem)
        if "timestamp_micros" in entry:
            check.timestamp(f"{here}.timestamp_micros", entry["timestamp_micros"])


def _user_data(check: _Check, value: object) -> None:
    """Hashed user-provided data: lists of SHA-256 digests, and addresses whose names and street are hashed."""
    data = check.mapping("user_data", value)
    check.known("user_data", data, _USER_DATA_LISTS)
    for key, entries in data.items():
        here = f"user_data.{key}"
        if key not in _USER_DATA_LISTS:
            continue
        if not isinstance(entries, list):
            check.add(here, "must be a list", Code.VALUE_INVALID)
            continue
        for i, entry in enumerate(entries):
            if key == "address":
                check.strings(f"{here}[{i}]", entry, _ADDRESS)
            else:
                check.string(f"{here}[{i}]", entry, _HASH)


def missing_session_params(payload: object) -> list[str]:
    """Paths (``events[i].params.session_id``, ...) of events lacking ``session_id`` or ``engagement_time_msec``.

    Google's validator accepts such events, but GA4 then shows them in Realtime only, never in
    processed reports, and never reprocesses them later: the relay refuses to send them.
    """
    events = payload.get("events") if isinstance(payload, dict) else None
    missing: list[str] = []
    for i, event in enumerate(events if isinstance(events, list) else ()):
        params = event.get("params") if isinstance(event, dict) else None
        for name in _SESSION_PARAMS:
            if not isinstance(params, dict) or params.get(name) is None:
                missing.append(f"events[{i}].params.{name}")
    return missing
