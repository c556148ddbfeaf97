"""A local Measurement Protocol validator that answers like Google's validation server.

Google's ``/debug/mp/collect`` answers ``{"validationMessages": [{"fieldPath", "description",
"validationCode"}]}`` with seven codes; the collect endpoint itself answers 2xx even for data it
drops. So every payload is checked here before it is sent, with the same vocabulary.

Field paths follow Google's style: ``events``, ``events[0].name``, ``events[0].params.value``,
``events[0].params.items[1].item_id``, ``user_properties.plan.value``, ``consent.ad_user_data``;
``""`` for the body itself.

Stricter than Google, on purpose: a ``user_id`` that looks like an email is refused (raw personal
identifiers must never reach GA4), and hashed ``user_data`` must really be SHA-256 hex.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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

__all__ = [
    "Code",
    "Limits",
    "ValidationMessage",
    "missing_session_params",
    "validate",
    "validate_text",
    "validation_response",
]


class Code(StrEnum):
    VALUE_INVALID = "VALUE_INVALID"
    VALUE_REQUIRED = "VALUE_REQUIRED"
    NAME_INVALID = "NAME_INVALID"
    NAME_RESERVED = "NAME_RESERVED"
    VALUE_OUT_OF_BOUNDS = "VALUE_OUT_OF_BOUNDS"
    EXCEEDED_MAX_ENTITIES = "EXCEEDED_MAX_ENTITIES"
    NAME_DUPLICATED = "NAME_DUPLICATED"


@dataclass(frozen=True, slots=True)
class ValidationMessage:
    field_path: str
    description: str
    code: Code

    def as_json(self) -> dict[str, str]:
        return {"fieldPath": self.field_path, "description": self.description, "validationCode": self.code.value}


@dataclass(frozen=True)
class Limits:
    """The documented limits; ``param_value_chars=500`` for GA4 360 properties."""

    events_per_request: int = 25
    params_per_event: int = 25
    user_properties: int = 25
    event_name_chars: int = 40
    param_name_chars: int = 40
    param_value_chars: int = 100
    user_property_name_chars: int = 24
    user_property_value_chars: int = 36
    item_custom_params: int = 10
    body_bytes: int = 130_000
    max_age_seconds: int = 72 * 3600
    user_id_chars: int = 256


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_CLIENT_ID = re.compile(r"[1-9][0-9]*\.[1-9][0-9]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_REGION = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")
_M49 = re.compile(r"[0-9]{3}")
_RESOLUTION = re.compile(r"[0-9]+x[0-9]+")
_CONSENT_VALUES = frozenset({"GRANTED", "DENIED"})
_CLOCK_SKEW_SECONDS = 60


class _Check:
    """Collects messages while walking one payload."""

    def __init__(self, now: float, limits: Limits) -> None:
        self.now = now
        self.limits = limits
        self.messages: list[ValidationMessage] = []

    def add(self, path: str, description: str, code: Code) -> None:
        self.messages.append(ValidationMessage(path, description, code))

    def name(self, path: str, name: str, max_chars: int, reserved: frozenset[str], prefixes: tuple[str, ...]) -> None:
        if name in reserved or name.startswith(prefixes):
            self.add(path, f"{name!r} is reserved", Code.NAME_RESERVED)
        elif len(name) > max_chars or not _NAME.fullmatch(name):
            self.add(path, f"{name!r}: up to {max_chars} letters, digits or underscores, starting with a letter",
                     Code.NAME_INVALID)  # fmt: skip

    def timestamp(self, path: str, value: object) -> None:
        micros = int(value) if isinstance(value, str) and value.isdigit() else value
        if not isinstance(micros, int) or isinstance(micros, bool) or micros <= 0:
            self.add(path, "must be a positive whole number of microseconds", Code.VALUE_INVALID)
        elif micros / 1e6 > self.now + _CLOCK_SKEW_SECONDS:
            self.add(path, "is in the future", Code.VALUE_INVALID)
        elif micros / 1e6 < self.now - self.limits.max_age_seconds:
            self.add(path, "is more than 72 hours in the past", Code.VALUE_OUT_OF_BOUNDS)

    def scalar(self, path: str, value: object, max_chars: int) -> None:
        if isinstance(value, str):
            if len(value) > max_chars:
                self.add(path, f"longer than {max_chars} characters", Code.VALUE_OUT_OF_BOUNDS)
        elif not isinstance(value, int | float) or value != value:  # NaN is not a value
            self.add(path, "must be a string, a number or a boolean", Code.VALUE_INVALID)


def validate(
    payload: object,
    *,
    now: float,
    limits: Limits = Limits(),
    require_client_id: bool = True,
    body_size: int | None = None,
) -> list[ValidationMessage]:
    """Every problem of a parsed MP body, as Google's validation server would name it (empty: valid)."""
    check = _Check(now, limits)
    if not isinstance(payload, dict):
        check.add("", "the body must be a JSON object", Code.VALUE_INVALID)
        return check.messages
    size = body_size if body_size is not None else len(json.dumps(payload, separators=(",", ":")).encode())
    if size >= limits.body_bytes:
        check.add("", f"the body is {size} bytes; it must be under {limits.body_bytes}", Code.VALUE_OUT_OF_BOUNDS)
    for key in payload:
        if key not in TOP_LEVEL_KEYS:
            check.add(str(key), f"unknown field {key!r}", Code.NAME_INVALID)
    _identity(check, payload, require_client_id)
    if "timestamp_micros" in payload:
        check.timestamp("timestamp_micros", payload["timestamp_micros"])
    _events(check, payload.get("events"))
    _user_properties(check, payload.get("user_properties"))
    _consent(check, payload.get("consent"))
    _user_data(check, payload.get("user_data"))
    _context(check, payload)
    return check.messages


def _identity(check: _Check, payload: dict[str, Any], require_client_id: bool) -> None:
    client_id = payload.get("client_id")
    if client_id is None:
        if require_client_id and "app_instance_id" not in payload:
            check.add("client_id", "client_id is required for web streams", Code.VALUE_REQUIRED)
    elif not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        check.add("client_id", "must be two positive integers joined by a dot, like 123456789.1700000000",
                  Code.VALUE_INVALID)  # fmt: skip
    user_id = payload.get("user_id")
    if user_id is not None:
        if not isinstance(user_id, str) or not user_id:
            check.add("user_id", "must be a non-empty string", Code.VALUE_INVALID)
        elif len(user_id) > check.limits.user_id_chars:
            check.add("user_id", f"longer than {check.limits.user_id_chars} characters", Code.VALUE_OUT_OF_BOUNDS)
        elif _EMAIL.fullmatch(user_id.strip()):
            check.add("user_id", "looks like an email: raw personal identifiers are not allowed", Code.VALUE_INVALID)


def _events(check: _Check, events: object) -> None:
    if events is None or events == []:
        check.add("events", "at least one event is required", Code.VALUE_REQUIRED)
        return
    if not isinstance(events, list):
        check.add("events", "must be a list", Code.VALUE_INVALID)
        return
    if len(events) > check.limits.events_per_request:
        check.add("events", f"{len(events)} events; at most {check.limits.events_per_request} per request",
                  Code.EXCEEDED_MAX_ENTITIES)  # fmt: skip
    for i, event in enumerate(events):
        path = f"events[{i}]"
        if not isinstance(event, dict):
            check.add(path, "must be an object", Code.VALUE_INVALID)
            continue
        for key in event:
            if key not in ("name", "params", "timestamp_micros"):
                check.add(f"{path}.{key}", f"unknown field {key!r}", Code.NAME_INVALID)
        name = event.get("name")
        if not isinstance(name, str) or not name:
            check.add(f"{path}.name", "the event name is required", Code.VALUE_REQUIRED)
        else:
            check.name(f"{path}.name", name, check.limits.event_name_chars, RESERVED_EVENTS, RESERVED_PREFIXES)
        if "timestamp_micros" in event:
            check.timestamp(f"{path}.timestamp_micros", event["timestamp_micros"])
        _params(check, f"{path}.params", event.get("params"))


def _params(check: _Check, path: str, params: object) -> None:
    if params is None:
        return
    if not isinstance(params, dict):
        check.add(path, "must be an object", Code.VALUE_INVALID)
        return
    limits = check.limits
    if len(params) > limits.params_per_event:
        check.add(path, f"{len(params)} params; at most {limits.params_per_event}", Code.EXCEEDED_MAX_ENTITIES)
    for name, value in params.items():
        here = f"{path}.{name}"
        check.name(here, str(name), limits.param_name_chars, RESERVED_PARAMS, RESERVED_PREFIXES)
        if name == "items":
            _items(check, here, value)
        else:
            check.scalar(here, value, limits.param_value_chars)


def _items(check: _Check, path: str, items: object) -> None:
    if not isinstance(items, list):
        check.add(path, "items must be a list of objects", Code.VALUE_INVALID)
        return
    for i, item in enumerate(items):
        here = f"{path}[{i}]"
        if not isinstance(item, dict):
            check.add(here, "an item must be an object", Code.VALUE_INVALID)
            continue
        if not (item.get("item_id") or item.get("item_name")):
            check.add(f"{here}.item_id", "an item needs item_id or item_name", Code.VALUE_REQUIRED)
        custom = [key for key in item if key not in STANDARD_ITEM_FIELDS]
        if len(custom) > check.limits.item_custom_params:
            check.add(here, f"{len(custom)} custom item params; at most {check.limits.item_custom_params}",
                      Code.EXCEEDED_MAX_ENTITIES)  # fmt: skip
        for key, value in item.items():
            if key not in STANDARD_ITEM_FIELDS:
                check.name(f"{here}.{key}", str(key), check.limits.param_name_chars, RESERVED_PARAMS, RESERVED_PREFIXES)
            check.scalar(f"{here}.{key}", value, check.limits.param_value_chars)


def _user_properties(check: _Check, properties: object) -> None:
    if properties is None:
        return
    if not isinstance(properties, dict):
        check.add("user_properties", "must be an object", Code.VALUE_INVALID)
        return
    limits = check.limits
    if len(properties) > limits.user_properties:
        check.add("user_properties", f"{len(properties)} user properties; at most {limits.user_properties}",
                  Code.EXCEEDED_MAX_ENTITIES)  # fmt: skip
    for name, prop in properties.items():
        here = f"user_properties.{name}"
        check.name(here, str(name), limits.user_property_name_chars, RESERVED_USER_PROPERTIES, USER_PROPERTY_PREFIXES)
        if not isinstance(prop, dict) or "value" not in prop:
            check.add(f"{here}.value", 'a user property needs {"value": ...}', Code.VALUE_REQUIRED)
            continue
        if prop["value"] is not None:
            check.scalar(f"{here}.value", prop["value"], limits.user_property_value_chars)
        if "timestamp_micros" in prop:
            check.timestamp(f"{here}.timestamp_micros", prop["timestamp_micros"])


def _consent(check: _Check, consent: object) -> None:
    if consent is None:
        return
    if not isinstance(consent, dict):
        check.add("consent", "must be an object", Code.VALUE_INVALID)
        return
    for key, value in consent.items():
        if key not in ("ad_user_data", "ad_personalization"):
            check.add(f"consent.{key}", "only ad_user_data and ad_personalization", Code.NAME_INVALID)
        elif value not in _CONSENT_VALUES:
            check.add(f"consent.{key}", "must be GRANTED or DENIED", Code.VALUE_INVALID)


def _hashes(check: _Check, path: str, values: object) -> None:
    if not isinstance(values, list) or not all(isinstance(v, str) and _SHA256.fullmatch(v) for v in values):
        check.add(path, "must be a list of SHA-256 hex digests of normalised values, never plain text",
                  Code.VALUE_INVALID)  # fmt: skip


def _user_data(check: _Check, data: object) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        check.add("user_data", "must be an object", Code.VALUE_INVALID)
        return
    for key, value in data.items():
        if key in ("sha256_email_address", "sha256_phone_number"):
            _hashes(check, f"user_data.{key}", value)
        elif key == "address":
            for i, address in enumerate(value if isinstance(value, list) else [value]):
                _address(check, f"user_data.address[{i}]", address)
        else:
            check.add(f"user_data.{key}", f"unknown field {key!r}", Code.NAME_INVALID)


def _address(check: _Check, path: str, address: object) -> None:
    if not isinstance(address, dict):
        check.add(path, "must be an object", Code.VALUE_INVALID)
        return
    for key, value in address.items():
        if key.startswith("sha256_"):
            if not (isinstance(value, str) and _SHA256.fullmatch(value)):
                check.add(f"{path}.{key}", "must be a SHA-256 hex digest", Code.VALUE_INVALID)
        elif key == "country":
            if not (isinstance(value, str) and _COUNTRY.fullmatch(value)):
                check.add(f"{path}.country", "an ISO 3166-1 alpha-2 code", Code.VALUE_INVALID)
        elif key in ("city", "region", "postal_code"):
            if not isinstance(value, str):
                check.add(f"{path}.{key}", "must be a string", Code.VALUE_INVALID)
        else:
            check.add(f"{path}.{key}", f"unknown field {key!r}", Code.NAME_INVALID)


def _context(check: _Check, payload: dict[str, Any]) -> None:
    location = payload.get("user_location")
    if location is not None:
        rules = {"country_id": _COUNTRY, "region_id": _REGION, "continent_id": _M49, "subcontinent_id": _M49}
        for key, value in location.items() if isinstance(location, dict) else [("", location)]:
            rule = rules.get(key)
            ok = isinstance(value, str) and (rule.fullmatch(value) if rule else key == "city")
            if not ok:
                check.add(f"user_location.{key}".rstrip("."), "not a valid location value", Code.VALUE_INVALID)
    device = payload.get("device")
    if device is not None:
        for key, value in device.items() if isinstance(device, dict) else [("", device)]:
            if key not in DEVICE_KEYS:
                check.add(f"device.{key}".rstrip("."), "unknown device field", Code.NAME_INVALID)
            elif not isinstance(value, str) or (key == "screen_resolution" and not _RESOLUTION.fullmatch(value)):
                check.add(f"device.{key}", "must be a string (screen_resolution like 1280x2856)", Code.VALUE_INVALID)
    if "ip_override" in payload:
        try:
            ipaddress.ip_address(str(payload["ip_override"]))
        except ValueError:
            check.add("ip_override", "not an IP address", Code.VALUE_INVALID)
    behavior = payload.get("validation_behavior")
    if behavior is not None and behavior not in ("RELAXED", "ENFORCE_RECOMMENDATIONS"):
        check.add("validation_behavior", "RELAXED or ENFORCE_RECOMMENDATIONS", Code.VALUE_INVALID)


def _collect_duplicates(found: set[tuple[int, str]]) -> Any:
    """An ``object_pairs_hook`` that remembers (object, key) for every key given twice in one object."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                found.add((id(result), key))
            result[key] = value  # the last one wins, as in json.loads
        return result

    return hook


def _duplicate_paths(found: set[tuple[int, str]], node: object, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if (id(node), key) in found:
                yield f"{prefix}{key}"
            yield from _duplicate_paths(found, value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _duplicate_paths(found, value, f"{prefix.rstrip('.')}[{i}].")


def validate_text(
    body: str | bytes, *, now: float, limits: Limits = Limits(), **options: Any
) -> list[ValidationMessage]:
    """Validate a raw body: invalid JSON and duplicated names (which parsing would hide) first, then ``validate``."""
    found: set[tuple[int, str]] = set()
    try:
        payload = json.loads(body, object_pairs_hook=_collect_duplicates(found))
    except (ValueError, UnicodeDecodeError) as exc:
        return [ValidationMessage("", f"the body is not valid JSON: {exc}", Code.VALUE_INVALID)]
    size = len(body.encode() if isinstance(body, str) else body)
    messages = [ValidationMessage(path, "this name appears twice", Code.NAME_DUPLICATED)
                for path in _duplicate_paths(found, payload)]  # fmt: skip
    return messages + validate(payload, now=now, limits=limits, body_size=size, **options)


def validation_response(messages: list[ValidationMessage]) -> dict[str, list[dict[str, str]]]:
    """The JSON body Google's validation server would answer."""
    return {"validationMessages": [message.as_json() for message in messages]}


def missing_session_params(payload: object) -> list[str]:
    """Paths of events lacking ``session_id`` or ``engagement_time_msec``.

    Google's validator accepts them, but without both GA4 shows the events in Realtime only and
    never in processed reports, so the relay refuses to send such events.
    """
    events = payload.get("events") if isinstance(payload, dict) else None
    missing = []
    for i, event in enumerate(events if isinstance(events, list) else []):
        params = event.get("params") if isinstance(event, dict) else None
        for name in ("session_id", "engagement_time_msec"):
            if not isinstance(params, dict) or name not in params:
                missing.append(f"events[{i}].params.{name}")
    return missing
