"""A local Measurement Protocol validator that answers like Google's validation server.

Google's collect endpoint answers 2xx even for data it silently drops, so the relay checks every
payload here before sending it. The answer speaks the vocabulary of ``/debug/mp/collect``: a list
of ``{"fieldPath", "description", "validationCode"}`` with Google's seven codes, empty when the
payload is valid. ``tests/data/mp_conformance.json`` holds Google's documented and recorded answers,
each of which this validator gives exactly, or differs from on purpose with the reason written there.

Behaviours (``validation_behavior`` in the body, or the ``behavior`` argument): ``RELAXED``, Google's
default and what its collection applies, refuses only malformed requests; ``ENFORCE_RECOMMENDATIONS``
adds the collection limits and recommended formats (``checks.py`` says which rule is which).

Field paths follow Google's answers where it documents them: an event's name is reported at ``events``
with its index in the description (``Event at index: [0] has invalid name [_badEventName]. ...``), a
field Google's parser does not know at no path at all (``Unable to parse Measurement Protocol JSON
payload. (events[0]) names: Cannot find field.``), a truncated param name colliding with another at
``events.params``. Elsewhere: object keys joined by dots, list positions in brackets, e.g.
``events[0].params.value``, ``events[1].params.items[2].price``, ``user_properties.plan.value``,
``user_data.sha256_email_address[0]``; a count over its limit at the object that holds too many.

The gateway's own rules, stricter than Google on purpose and on by default:
- ``privacy_rules``: a ``user_id`` that looks like an email, or is empty, is refused: raw personal
  identifiers must never reach GA4, and Google's policy forbids them though its server takes them.
- ``storage_rules``: ``value``, ``price`` and ``quantity`` must be numbers the warehouse can keep
  (``Decimal(18, 6)``; Google takes any size), an event's ``value`` must be a number (Google's answer to
  ``"bad"`` is not documented; a purchase stored as worth nothing is worse than an error), and
  ``ip_override`` must be an IP address (the warehouse keeps it truncated, which needs an address).
``user_data`` must be SHA-256 hex, as Google's user-provided data page requires, unless ``raw_user_data``
says the caller normalises and hashes plain values itself before anything leaves.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from .checks import MAX_AMOUNT, Check, Rule, amount_problem, name_problem, proto_value, value_problem
from .messages import DEFAULT_LIMITS, Behavior, Code, Limits, ValidationMessage, validation_response
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

__all__ = ["DEFAULT_LIMITS", "MAX_AMOUNT", "Behavior", "Code", "Limits", "ValidationMessage", "amount_problem",
           "behavior_of", "missing_session_params", "validate", "validation_response"]  # fmt: skip

_AMOUNTS = frozenset({"value", "price", "quantity"})  # the params GA4 reads as numbers (value: revenue)
# An item's price or quantity Google cannot convert to a number is Google's own refusal (its recorded answer to
# "$19"); one that converts but does not fit the warehouse is the gateway's (storage_rules).
_ITEM_NUMBERS = frozenset({"price", "quantity"})
_CLIENT_ID = re.compile(r"[0-9]+\.[0-9]+")  # Google's "<number>.<number>": leading zeros are numbers too
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}")
_HASH: Rule = (
    re.compile(r"[0-9a-f]{64}"),
    "the lowercase SHA-256 hex digest of the normalised value: never plain text",
    False,
)
_TEXT: Rule = (None, "a string", False)
_COUNTRY: Rule = (re.compile(r"[A-Z]{2}"), "an ISO 3166-1 alpha-2 code, like DE", True)
_M49 = re.compile(r"[0-9]{3}")
# The small objects whose every field is a string of some form.
_CONSENT: dict[str, Rule] = dict.fromkeys(
    ("ad_user_data", "ad_personalization"), (re.compile("GRANTED|DENIED"), "GRANTED or DENIED", False)
)
_LOCATION: dict[str, Rule] = {
    "city": _TEXT,
    "country_id": _COUNTRY,
    "region_id": (re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}"), "an ISO 3166-2 code, like US-CA", True),
    "continent_id": (_M49, "a UN M49 code, like 150", True),
    "subcontinent_id": (_M49, "a UN M49 code, like 155", True),
}
_DEVICE: dict[str, Rule] = {
    **dict.fromkeys(DEVICE_KEYS, _TEXT),
    "screen_resolution": (re.compile("[0-9]+x[0-9]+"), "like 1280x2856", True),
}
_BEHAVIOR: Rule = (re.compile("RELAXED|ENFORCE_RECOMMENDATIONS"), "RELAXED or ENFORCE_RECOMMENDATIONS", False)
_EVENT_KEYS = frozenset({"name", "params", "timestamp_micros"})
_USER_PROPERTY_KEYS = frozenset({"value", "timestamp_micros"})
_USER_DATA_LISTS = frozenset({"sha256_email_address", "sha256_phone_number", "address"})
_SESSION_PARAMS = ("session_id", "engagement_time_msec")
_EVENT_NAMES = (RESERVED_EVENTS, RESERVED_PREFIXES)
_PARAM_NAMES = (RESERVED_PARAMS, RESERVED_PREFIXES)
_USER_PROPERTY_NAMES = (RESERVED_USER_PROPERTIES, USER_PROPERTY_PREFIXES)


def behavior_of(payload: object) -> Behavior:
    """The behaviour a body asks for: its ``validation_behavior``, ``RELAXED`` when absent or not one of the two."""
    asked = payload.get("validation_behavior") if isinstance(payload, dict) else None
    return Behavior.ENFORCE_RECOMMENDATIONS if asked == Behavior.ENFORCE_RECOMMENDATIONS else Behavior.RELAXED


def validate(
    payload: object,
    *,
    now: float,
    limits: Limits = DEFAULT_LIMITS,
    require_client_id: bool = True,
    body_size: int | None = None,
    behavior: Behavior | None = None,
    privacy_rules: bool = True,
    storage_rules: bool = True,
    raw_user_data: bool = False,
) -> list[ValidationMessage]:
    """Every problem of a parsed MP body, named as Google's validation server would (empty: valid).

    ``now`` is epoch seconds (timestamps are judged against it); ``require_client_id`` is for web
    streams, which need one; ``body_size`` is the serialised size in bytes when the caller knows
    it, else the size of the compact UTF-8 JSON that httpx sends. ``behavior`` overrides the body's
    own ``validation_behavior`` (None: the body's, ``RELAXED`` when it has none, as Google does). The
    gateway's own rules (module docstring) are on unless turned off. Never raises.
    """
    enforce = (behavior or behavior_of(payload)) is Behavior.ENFORCE_RECOMMENDATIONS
    check = Check(now, limits, enforce=enforce, privacy=privacy_rules, storage=storage_rules,
                  raw_user_data=raw_user_data)  # fmt: skip
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
    _ip_override(check, payload.get("ip_override"))
    if "non_personalized_ads" in payload and not isinstance(payload["non_personalized_ads"], bool):
        check.add("non_personalized_ads", "must be a boolean (deprecated: use consent)", Code.VALUE_INVALID)
    return check.messages


def _serialised_size(payload: dict[Any, Any]) -> int | None:
    try:
        return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, RecursionError):  # not JSON: sets, bytes, cycles...
        return None


def _ip_override(check: Check, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        check.add("ip_override", "must be a string", Code.VALUE_INVALID)
        return
    try:  # a scoped IPv6 (fe80::1%eth0) says nothing about geography
        valid = "%" not in value and bool(ipaddress.ip_address(value))
    except ValueError:
        valid = False
    if check.storage and not valid:
        check.add("ip_override", "must be an IPv4 or IPv6 address (gateway rule)", Code.VALUE_INVALID)


def _identity(check: Check, payload: dict[Any, Any], require_client_id: bool) -> None:
    client_id = payload.get("client_id")
    if client_id is None or client_id == "":
        if require_client_id:
            check.add("client_id", "client_id is required for web streams", Code.VALUE_REQUIRED)
    elif not isinstance(client_id, str):
        check.add("client_id", "must be a string", Code.VALUE_INVALID)
    elif check.enforce and not _CLIENT_ID.fullmatch(client_id):
        check.add("client_id", f"client_id [{client_id}] has invalid format. It should be in <number>.<number> "
                  "format.", Code.VALUE_INVALID)  # fmt: skip
    user_id = payload.get("user_id")
    if user_id is None:
        return
    if not isinstance(user_id, str):
        check.add("user_id", "must be a string", Code.VALUE_INVALID)
    elif check.privacy and not user_id:
        check.add("user_id", "must not be empty (gateway rule: a blank user id merges users)", Code.VALUE_INVALID)
    elif check.privacy and _EMAIL.search(user_id):
        check.add("user_id", "looks like an email: raw personal identifiers are not allowed (gateway rule)",
                  Code.VALUE_INVALID)  # fmt: skip
    elif check.enforce and len(user_id) > check.limits.user_id_chars:
        check.add("user_id", f"{len(user_id)} characters; at most {check.limits.user_id_chars}",
                  Code.VALUE_OUT_OF_BOUNDS)  # fmt: skip


def _events(check: Check, events: object) -> None:
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
            check.add("events", f"Event at index: [{i}] has no name.", Code.VALUE_REQUIRED)
        elif not isinstance(name, str):
            check.add("events", f"Event at index: [{i}] has a name that is not a string.", Code.VALUE_INVALID)
        elif problem := name_problem(name, limits.event_name_chars, _EVENT_NAMES, check.enforce):
            reason, code = problem
            kind = "reserved" if code is Code.NAME_RESERVED else "invalid"
            check.add("events", f"Event at index: [{i}] has {kind} name [{name}]. {reason}", code)
        if "timestamp_micros" in event:
            check.timestamp(f"{path}.timestamp_micros", event["timestamp_micros"])
        if event.get("params") is not None:
            _params(check, f"{path}.params", event["params"])


def _params(check: Check, path: str, value: object) -> None:
    params = check.mapping(path, value)
    limits = check.limits
    check.count(path, len(params), limits.params_per_event, "params")
    enforce, storage, max_name = check.enforce, check.storage, limits.param_name_chars
    chars, longer = limits.param_value_chars, check.long_values
    verdicts = _param_names(max_name, enforce)
    for name, param in params.items():  # paths are only built for a message: this loop is the hot one
        if (problem := verdicts.get(name, _UNSEEN)) is _UNSEEN:
            problem = verdicts[name] = name_problem(name, max_name, _PARAM_NAMES, enforce)
        if problem:
            check.add(f"{path}.{name}", f"Invalid param name [{name}]. {problem[0]}", problem[1])
        if name == "items":
            _items(check, f"{path}.items", param)
        elif storage and name in _AMOUNTS and (problem := amount_problem(param)):
            check.add(f"{path}.{name}", *problem)  # the amount first: what RELAXED says, enforcing says too
        elif type(param) is str and (not enforce or len(param) <= longer.get(name, chars)):
            continue  # the common case, decided without a call
        elif problem := value_problem(param, longer.get(name, chars), enforce):
            check.add(f"{path}.{name}", *problem)
    try:  # map(len) runs in C: this check costs nearly nothing when no name is long
        long_names = max(map(len, params), default=0) > max_name
    except TypeError:  # a key that is not a string (only callers in Python can send one)
        long_names = True
    if long_names:
        _truncated_duplicates(check, params, max_name)


_UNSEEN: Any = object()
_PARAM_VERDICTS: dict[tuple[int, bool], dict[Any, tuple[str, Code] | None]] = {}


def _param_names(max_chars: int, enforce: bool) -> dict[Any, tuple[str, Code] | None]:
    """Verdicts on param names already seen, per limit and behaviour: a dict lookup is cheaper than a cached call,
    and the same few names come in every event. Bounded: emptied when a sender invents too many names."""
    verdicts = _PARAM_VERDICTS.setdefault((max_chars, enforce), {})
    if len(verdicts) > 4096:
        verdicts.clear()
    return verdicts


def _truncated_duplicates(check: Check, params: dict[Any, Any], max_name: int) -> None:
    """Google keeps the first ``max_name`` characters of a name: two names alike that far are one name twice."""
    seen: set[str] = set()
    for name, value in params.items():
        short = name[:max_name] if isinstance(name, str) else name
        if short in seen:
            check.add("events.params", f"The event param [{proto_value(value)}] has a duplicate name [{name}].",
                      Code.NAME_DUPLICATED)  # fmt: skip
        seen.add(short)


def _items(check: Check, path: str, items: object) -> None:
    """``items`` is the one param that holds objects; only non-standard item fields count as custom."""
    if not isinstance(items, list):
        check.add(path, "items must be a list of objects", Code.VALUE_INVALID)
        return
    limits = check.limits
    enforce, storage = check.enforce, check.storage
    check.count(path, len(items), limits.items_per_event, "items")
    for i, item in enumerate(items):
        here = f"{path}[{i}]"
        if not isinstance(item, dict):
            check.add(here, "an item must be an object", Code.VALUE_INVALID)
            continue
        if enforce and item.get("item_id") in (None, "") and item.get("item_name") in (None, ""):
            check.add(f"{here}.item_id", "an item needs item_id or item_name", Code.VALUE_REQUIRED)
        custom = 0
        for key, field in item.items():
            if key not in STANDARD_ITEM_FIELDS:
                custom += 1
                if problem := name_problem(key, limits.param_name_chars, _PARAM_NAMES, enforce):
                    check.add(f"{here}.{key}", f"Invalid item param name [{key}]. {problem[0]}", problem[1])
            amount = amount_problem(field) if key in _ITEM_NUMBERS else None
            if amount is not None and isinstance(field, str) and amount[0].startswith("must be a number"):
                check.add(f"{here}.{key}", f"Validation of item.{key} should prevent conversion from unsupported "
                          f"value [{proto_value(field)}]", Code.VALUE_INVALID)  # fmt: skip
            elif (storage and (problem := amount)) or (
                problem := value_problem(field, limits.param_value_chars, enforce)
            ):
                check.add(f"{here}.{key}", *problem)
        check.count(here, custom, limits.item_custom_params, "custom item params")


def _user_properties(check: Check, value: object) -> None:
    properties = check.mapping("user_properties", value)
    limits = check.limits
    check.count("user_properties", len(properties), limits.user_properties, "user properties")
    for name, entry in properties.items():
        here = f"user_properties.{name}"
        if problem := name_problem(name, limits.user_property_name_chars, _USER_PROPERTY_NAMES, check.enforce):
            check.add(here, f"Invalid user property name [{name}]. {problem[0]}", problem[1])
        if not isinstance(entry, dict):
            check.add(here, 'a user property is an object: {"value": ...}', Code.VALUE_INVALID)
            continue
        check.known(here, entry, _USER_PROPERTY_KEYS)
        if entry.get("value") is None:
            check.add(f"{here}.value", 'a user property needs {"value": ...}', Code.VALUE_REQUIRED)
        elif problem := value_problem(entry["value"], limits.user_property_value_chars, check.enforce):
            check.add(f"{here}.value", *problem)
        if "timestamp_micros" in entry:
            check.timestamp(f"{here}.timestamp_micros", entry["timestamp_micros"])


def _user_data(check: Check, value: object) -> None:
    """User-provided data: lists of SHA-256 digests, and addresses whose names and street are hashed."""
    digest = _TEXT if check.raw_user_data else _HASH
    address: dict[str, Rule] = {
        **dict.fromkeys(("sha256_first_name", "sha256_last_name", "sha256_street"), digest),
        **dict.fromkeys(("city", "region", "postal_code"), _TEXT),
        "country": _COUNTRY,
    }
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
                check.strings(f"{here}[{i}]", entry, address)
            else:
                check.string(f"{here}[{i}]", entry, digest)


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
