"""The JSON Schemas of the API's bodies (OpenAPI 3.1 components), built from the constants the handlers check with.

Each schema says what the handler next to it accepts or answers: the event names, scopes, purposes, models and
patterns are the handlers' own objects, so a change there changes the documentation. Where a rule cannot be said in
JSON Schema (an item needs ``item_id`` or ``item_name``, a purchase needs ``value``), the description says it and the
handler's 422 names the field. ``gateway.api.openapi`` assembles these with the operations.
"""

from __future__ import annotations

from typing import Any

from attribution import GROUPINGS, MODELS
from consent import Purpose
from identity.model import Kind

from .ingest import CLIENT_ID, EVENT_NAMES

__all__ = ["SCHEMAS", "ref"]

Schema = dict[str, Any]
_PURPOSES = [p.value for p in Purpose]
_DECISION: Schema = {"type": "string", "enum": ["granted", "denied"]}
_TIME: Schema = {
    "description": "An ISO 8601 time with its offset (2026-11-23T10:00:00Z) or epoch seconds.",
    "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
}
_CLIENT_ID: Schema = {"type": "string", "pattern": f"^{CLIENT_ID.pattern}$", "examples": ["123456789.1700000000"]}
_TEXT_256: Schema = {"type": "string", "minLength": 1, "maxLength": 256}


def ref(name: str) -> Schema:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


_ERRORS: dict[str, Schema] = {
    "Error": _object(
        {
            "error": {"type": "string", "description": "A word a program can test."},
            "detail": {"type": "string", "description": "What went wrong, for a person."},
        },
        ("error", "detail"),
        description="Every refusal of an API route (401, 403, 404, 503) has at least these two fields.",
    ),
    "InvalidRequest": _object(
        {
            "error": {"const": "invalid_request"},
            "detail": {"type": "string"},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Each wrong field, by its path (events[2].params.currency), and what it should be.",
            },
        },
        ("error", "detail", "fields"),
        description="A body or query the route cannot use (400, 409, 413, 415, 422; also 503 when the outbox is full)."
        " Nothing was stored.",
    ),
    "AuthRefused": _object(
        {"error": {"type": "string", "enum": ["unauthorized", "forbidden"]}, "detail": {"type": "string"}},
        ("error", "detail"),
        description="401: the bearer token is missing, malformed, expired, revoked or not this gateway's. 403: it"
        " lacks the scope the route needs (the detail names it).",
    ),
    "RateLimited": _object(
        {
            "error": {"const": "rate_limited"},
            "limit": {"type": "string", "enum": ["auth_failures", "api", "mp"]},
            "rate": {"type": "string", "examples": ["10 per 1 minute"]},
            "retry_after": {"type": "integer", "minimum": 1},
            "detail": {"type": "string"},
        },
        ("error", "limit", "rate", "retry_after", "detail"),
        description="429: the client went past a rate limit; the Retry-After header has the seconds to wait.",
    ),
}

_EVENT = _object(
    {
        "name": {"type": "string", "enum": sorted(EVENT_NAMES)},
        "event_id": {
            "type": "string",
            "pattern": "^[A-Za-z0-9._:-]{1,64}$",
            "description": "The shop's own id: the same id is the same event.",
        },
        "time": _TIME,
        "client_id": _CLIENT_ID,
        "user_id": {**_TEXT_256, "description": "Stored as a keyed pseudonym."},
        "email": {"type": "string", "format": "email", "description": "Only its keyed pseudonym is kept."},
        "session_id": {"type": ["string", "integer"], "description": "At most 100 characters."},
        "consent": {"type": "object", "propertyNames": {"enum": _PURPOSES}, "additionalProperties": _DECISION},
        "region": {"type": "string", "pattern": "^[A-Za-z]{2}$", "description": "The person's country (DE)."},
        "traffic": _object(
            {k: {"type": "string", "maxLength": 100} for k in ("source", "medium", "campaign")},
            additionalProperties=False,
        ),
        "params": {
            "type": "object",
            "description": "GA4 event parameters. value needs currency (EUR); a purchase"
            " needs transaction_id and value; add_to_cart, begin_checkout and view_item need items, each"
            " with item_id or item_name.",
        },
    },
    ("name",),
    additionalProperties=False,
    anyOf=[{"required": ["client_id"]}, {"required": ["user_id"]}, {"required": ["email"]}],
)

_EVENTS: dict[str, Schema] = {
    "Event": _EVENT,
    "EventsRequest": _object(
        {
            "events": {
                "type": "array",
                "minItems": 1,
                "items": ref("Event"),
                "description": "At most GA4GW_EVENTS_MAX_PER_REQUEST events.",
            }
        },
        ("events",),
    ),
    "EventsAccepted": _object(
        {
            "accepted": {"type": "integer", "minimum": 0},
            "events": {
                "type": "array",
                "items": _object(
                    {
                        "event_id": {"type": "string"},
                        "status": {"type": "string", "enum": ["accepted", "duplicate"]},
                        "transaction_id": {"type": "string", "description": "Of a purchase already taken (duplicate)."},
                    },
                    ("event_id", "status"),
                ),
            },
        },
        ("accepted", "events"),
    ),
    "ImportResult": _object(
        {k: {"type": "integer", "minimum": 0} for k in ("lines", "stored", "edges", "bad_lines")}
        | {"errors": {"type": "object", "additionalProperties": {"type": "string"}}},
        ("lines", "stored", "edges", "bad_lines", "errors"),
    ),
    "ImportRefused": {
        "allOf": [ref("InvalidRequest"), ref("ImportResult")],
        "description": "Bad lines, each named (line 12.time); nothing was stored.",
    },
}

_LINK = _object(
    {"link_id": {"type": "string"}, "url": {"type": "string"}, "tracked": {"type": "string"}},
    ("link_id", "url", "tracked"),
)
_LINKS: dict[str, Schema] = {
    "LinksRequest": _object(
        {
            "campaign": {"type": "string", "minLength": 1, "maxLength": 128},
            "mode": {"type": "string", "enum": ["anonymous", "pseudonymous", "identified"], "default": "pseudonymous"},
            "recipient": {"type": "string", "maxLength": 256, "description": "Your own subscriber key."},
            "email": {"type": "string", "maxLength": 256, "description": "Only its keyed pseudonym is used."},
            "variant": {"type": "string", "maxLength": 256},
            "expires_in_days": {"type": "integer", "minimum": 0, "maximum": 3650},
            "urls": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": "string", "format": "uri"}},
            "html": {"type": "string", "description": "A whole HTML body to rewrite (at most 2 MiB)."},
            "track_unsubscribe": {"type": "boolean"},
            "sent_at": _TIME,
        },
        ("campaign",),
        oneOf=[{"required": ["urls"]}, {"required": ["html"]}],
        description="A recipient or an email is required unless mode is anonymous.",
    ),
    "Links": _object(
        {
            "links": {"type": "array", "items": _LINK},
            "pixel": {"type": "string", "description": "The open pixel's URL."},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "html": {"type": "string", "description": "Given html: the body with its links signed and the pixel."},
            "untracked": {
                "type": "array",
                "items": _object(
                    {
                        "url": {"type": "string"},
                        "tag": {"type": "string"},
                        "reason": {"type": "string"},
                        "detail": {"type": "string"},
                    },
                    ("url", "tag", "reason"),
                ),
            },
        },
        ("links", "pixel", "warnings"),
    ),
}

_PEOPLE: dict[str, Schema] = {
    "IdentifyRequest": _object(
        {
            "landing_token": {"type": "string", "minLength": 1, "description": "From the shop URL the click led to."},
            "client_id": _CLIENT_ID,
            "user_id": _TEXT_256,
        },
        ("landing_token", "client_id"),
        additionalProperties=False,
    ),
    "Identified": _object(
        {
            "accepted": {"type": "boolean"},
            "event_id": {"type": "string"},
            "reason": {"type": "string", "description": "Why nothing was recorded (an anonymous click)."},
        },
        ("accepted",),
    ),
    "ConsentDecision": _object(
        {
            "subject": _object(
                {k: _TEXT_256 for k in ("email", "subscriber", "user_id")} | {"client_id": _CLIENT_ID},
                minProperties=1,
                additionalProperties=False,
            ),
            "purposes": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"enum": _PURPOSES},
                "additionalProperties": _DECISION,
            },
            "tcf": {"type": "string", "description": "A TCF v2.2 TC string, decoded into Consent Mode signals."},
            "unsubscribe": {"const": True, "description": "email_tracking denied from then on."},
            "time": _TIME,
            "policy_version": {"type": "string", "maxLength": 64},
        },
        ("subject",),
        additionalProperties=False,
        anyOf=[{"required": ["purposes"]}, {"required": ["tcf"]}, {"required": ["unsubscribe"]}],
    ),
    "ConsentRequest": {
        "oneOf": [
            ref("ConsentDecision"),
            _object(
                {"consents": {"type": "array", "minItems": 1, "maxItems": 1000, "items": ref("ConsentDecision")}},
                ("consents",),
            ),
        ]
    },
    "ConsentRecorded": _object(
        {
            "accepted": {"type": "integer"},
            "decisions": {"type": "integer"},
            "event_ids": {"type": "array", "items": {"type": "string"}},
        },
        ("accepted", "decisions", "event_ids"),
    ),
    "ConsentState": _object(
        {
            "region": {"type": ["string", "null"]},
            "loaded": {"type": "boolean"},
            "purposes": {
                "type": "object",
                "propertyNames": {"enum": _PURPOSES},
                "additionalProperties": _object(
                    {
                        "granted": {"type": "boolean"},
                        "reason": {"type": "string"},
                        "rule": {"type": "string"},
                        "source": {"type": "string"},
                        "at": {"type": "string"},
                        "policy_version": {"type": "string"},
                    },
                    ("granted", "reason", "rule"),
                ),
            },
        },
        ("region", "loaded", "purposes"),
    ),
    "ErasureRequest": _object(
        {
            "email": {"type": "string", "format": "email"},
            "identifier": {
                "type": "string",
                "description": f"kind:value, kind one of {', '.join(k.value for k in Kind)}",
            },
            "identifiers": {"type": "array", "minItems": 1, "maxItems": 50, "items": {"type": "string"}},
            "reason": {"type": "string", "maxLength": 500, "description": "Never the person's identifiers."},
        },
        additionalProperties=False,
        anyOf=[{"required": ["email"]}, {"required": ["identifier"]}, {"required": ["identifiers"]}],
    ),
    "Erasure": _object(
        {
            "erasure_id": {"type": "string"},
            "status": {"type": "string", "enum": ["done", "partial"]},
            "identifiers": {"type": "integer"},
            "rows": {"type": "object", "additionalProperties": {"type": "integer"}},
            "left": {"type": "object"},
        },
        ("erasure_id", "status", "identifiers", "rows", "left"),
    ),
}

_RUN_STATES = ["queued", "running", "done", "failed"]
_REPORTS: dict[str, Schema] = {
    "AttributionReport": _object(
        {
            "model": {"type": "string", "enum": list(MODELS)},
            "group_by": {"type": "string", "enum": list(GROUPINGS)},
            "groups": {
                "type": "array",
                "items": _object(
                    {"currency": {"type": "string"}, "conversions": {"type": "number"}, "revenue": {"type": "string"}},
                    ("currency", "conversions", "revenue"),
                ),
            },
            "channel_values": {
                "type": "array",
                "items": _object(
                    {"channel": {"type": "string"}, "value": {"type": "number"}, "error": {"type": "number"}},
                    ("channel", "value", "error"),
                ),
            },
        },
        ("model", "group_by", "groups", "channel_values"),
    ),
    "RunRequest": _object(
        {
            "models": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(MODELS)}},
            "since": {"type": "string", "format": "date-time"},
            "until": {"type": "string", "format": "date-time"},
        },
        additionalProperties=False,
        description="Optional. By default every model, from where the last run ended (less a day) to now.",
    ),
    "RunStatus": _object(
        {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": _RUN_STATES},
            "trigger": {"type": "string"},
            "models": {"type": "array", "items": {"type": "string"}},
            "requested_at": {"type": ["string", "null"]},
            "started_at": {"type": ["string", "null"]},
            "finished_at": {"type": ["string", "null"]},
            "progress": _object(
                {"step": {"type": "string"}, "done": {"type": "integer"}, "total": {"type": "integer"}},
                ("step", "done", "total"),
            ),
            "status_url": {"type": "string", "description": "Only in the answer to POST."},
            "error": {"type": "string", "description": "Why a failed run failed."},
        },
        ("id", "status", "trigger", "models", "requested_at", "progress"),
    ),
    "Ga4Status": _object(
        {
            "dry_run": {"type": "boolean"},
            "origin": {"type": "string"},
            "measurement_id": {"type": "string"},
            "outbox_waiting": {"type": ["integer", "null"]},
            "queued_deliveries": {"type": "integer"},
            "queued_events": {"type": "integer"},
            "lag_seconds": {"type": "number"},
            "dead_letters": {"type": "object"},
            "last_error": {"type": "string"},
            "gateway": _object({"running": {"type": "boolean"}, "pid": {"type": "integer"}}, ("running", "pid")),
        },
        ("dry_run", "origin", "measurement_id", "outbox_waiting", "queued_deliveries", "gateway"),
        description="The relay of the running gateway; never its API secret.",
    ),
    "EffectiveSettings": _object(
        {
            "settings": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Every GA4GW_* setting as this gateway runs with it; secrets as (set) or (empty).",
            },
            "gateway": _object(
                {"pid": {"type": "integer"}, "url": {"type": "string"}, "data_dir": {"type": "string"}},
                ("pid", "url", "data_dir"),
            ),
        },
        ("settings", "gateway"),
        description="The running gateway's effective settings (what ga4gw settings prints).",
    ),
    "IdentityExplanation": _object(
        {
            "identifier": {"type": "string", "description": "The identifier found, as kind:pseudonym."},
            "person_id": {"type": "string"},
            "lines": {"type": "array", "items": {"type": "string"}, "description": "The edges that join it."},
        },
        ("identifier", "person_id", "lines"),
        description="Who the identity graph says is behind an identifier; pseudonyms only.",
    ),
}

_SERVICE: dict[str, Schema] = {
    "ValidationMessages": _object(
        {
            "validationMessages": {
                "type": "array",
                "items": _object(
                    {
                        "fieldPath": {"type": "string"},
                        "description": {"type": "string"},
                        "validationCode": {"type": "string"},
                    },
                    ("description", "validationCode"),
                ),
            }
        },
        ("validationMessages",),
        description="Google's validation answer, in its vocabulary.",
    ),
    "MpEvent": {"type": "object", "description": "A Measurement Protocol body (client_id, events, ...)."},
    "Health": _object({"status": {"const": "ok"}}, ("status",)),
    "Readiness": _object(
        {
            "status": {"type": "string", "enum": ["ready", "not ready"]},
            "warehouse": {"type": "object"},
            "outbox": {"type": "object"},
            "ga4": {"type": "object"},
            "threads": {"type": "object"},
            "problems": {"type": "array", "items": {"type": "string"}},
        },
        ("status", "warehouse", "threads"),
    ),
}

SCHEMAS: dict[str, Schema] = {**_ERRORS, **_EVENTS, **_LINKS, **_PEOPLE, **_REPORTS, **_SERVICE}
