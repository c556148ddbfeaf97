"""The API's operations, each declared with the handler that serves it: what it needs, takes and answers.

``gateway.api.openapi`` turns these into the OpenAPI 3.1 document. The bodies' schemas are in ``openapi_schemas``
(built from the handlers' own constants); each operation's example is a request its handler accepts, and
``tests/gateway/test_openapi_live.py`` sends it (and wrong ones) to a live gateway and checks every answer against
what is declared here. A new route under ``/v1`` fails that test until it is declared here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.ga4 import debug_route
from gateway.telemetry.metrics import routes as metrics_routes

from . import (
    attribution_api,
    consent_api,
    erasure_api,
    ga4_status_api,
    health,
    identify,
    import_api,
    ingest,
    links_api,
    mp_ingest,
    operator_api,
)
from .openapi_schemas import SCHEMAS, ref

__all__ = ["JSON", "OPERATIONS", "SHARED_RESPONSES", "Operation"]

Schema = dict[str, Any]
JSON = "application/json"


@dataclass(frozen=True)
class Operation:
    """One method of one path: who serves it, what it needs, what it takes and answers."""

    path: str
    method: str
    handler: Callable[..., Any]
    summary: str
    scope: str = ""  # "" for routes without a bearer token
    body: Schema | None = None  # {media type: schema}
    example: Any = None
    parameters: list[Schema] = field(default_factory=list)
    responses: dict[str, Schema] = field(default_factory=dict)
    tag: str = "API"
    body_required: bool = True


def _answer(
    description: str, schema: Schema | None = None, media: str = JSON, headers: dict[str, str] | None = None
) -> Schema:
    out: Schema = {"description": description}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    if headers:
        out["headers"] = {name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()}
    return out


def _query(name: str, description: str, schema: Schema | None = None, required: bool = False) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


SHARED_RESPONSES: dict[str, Schema] = {
    "BadRequest": _answer(
        "The body is not JSON, not an object, not UTF-8, or too deeply nested.", ref("InvalidRequest")
    ),
    "Unauthorized": _answer(
        "No valid bearer token.", ref("AuthRefused"), headers={"WWW-Authenticate": 'Bearer realm="ga4gw"'}
    ),
    "Forbidden": _answer("The token lacks the scope this operation needs.", ref("AuthRefused")),
    "TooLarge": _answer("The body is larger than this route takes.", ref("InvalidRequest")),
    "NotJson": _answer("The body was not sent as Content-Type: application/json.", ref("InvalidRequest")),
    "Invalid": _answer("Wrong fields, each named; nothing was stored.", ref("InvalidRequest")),
    "RateLimited": _answer("Too many requests.", ref("RateLimited"), headers={"Retry-After": "Seconds to wait."}),
    "Unavailable": _answer("The outbox is full or the warehouse is away; nothing was stored: retry.", ref("Error")),
}


_EVENT_EXAMPLE: dict[str, Any] = {
    "name": "purchase",
    "event_id": "order-1001",
    "time": "2026-11-23T10:00:00Z",
    "client_id": "123456789.1700000000",
    "email": "ann@example.com",
    "params": {
        "transaction_id": "T-1001",
        "value": 59.9,
        "currency": "EUR",
        "items": [{"item_id": "SKU-1", "price": 59.9, "quantity": 1}],
    },
}
_NDJSON = {"type": "string", "description": "One event per line, as in POST /v1/events."}
_CSV = {"type": "string", "description": "A header row of event fields (params.value, params.items, ...)."}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "/v1/links",
        "post",
        links_api.create_links,
        "Tracked links (or a rewritten HTML body) and the pixel",
        "links:write",
        {JSON: ref("LinksRequest")},
        {"campaign": "winter-26", "recipient": "sub-42", "urls": ["https://shop.example/sale"]},
        responses={"200": _answer("The tracked URLs, the pixel and any warnings.", ref("Links"))},
    ),
    Operation(
        "/v1/events",
        "post",
        ingest.post_events,
        "Record the shop's server-side events",
        "events:write",
        {JSON: ref("EventsRequest")},
        {"events": [_EVENT_EXAMPLE]},
        responses={
            "202": _answer("Every event is in the outbox.", ref("EventsAccepted")),
            "503": {"$ref": "#/components/responses/Unavailable"},
        },
    ),
    Operation(
        "/v1/events/import",
        "post",
        import_api.post_import,
        "Import a file of past events",
        "events:import",
        {"application/x-ndjson": _NDJSON, "application/jsonl": _NDJSON, "text/csv": _CSV},
        json.dumps(
            {
                **_EVENT_EXAMPLE,
                "event_id": "order-900",
                "time": "2025-06-01T10:00:00Z",
                "params": {**_EVENT_EXAMPLE["params"], "transaction_id": "T-900"},
            }
        )
        + "\n",
        responses={
            "200": _answer("The counts: every line stored.", ref("ImportResult")),
            "413": {"$ref": "#/components/responses/TooLarge"},
            "415": _answer("Not NDJSON nor CSV.", ref("InvalidRequest")),
            "422": _answer("Bad lines, each named; nothing stored.", ref("ImportRefused")),
            "503": {"$ref": "#/components/responses/Unavailable"},
        },
    ),
    Operation(
        "/v1/identify",
        "post",
        identify.identify,
        "Join a click's landing token to the site's client id",
        "identity:write",
        {JSON: ref("IdentifyRequest")},
        {"landing_token": "<the ga4gw_lt parameter of the landing URL>", "client_id": "123456789.1700000000"},
        responses={
            "200": _answer("An anonymous click: nobody to identify.", ref("Identified")),
            "202": _answer("The identification is recorded.", ref("Identified")),
            "409": _answer("The token was redeemed for another visitor.", ref("InvalidRequest")),
            "503": {"$ref": "#/components/responses/Unavailable"},
        },
    ),
    Operation(
        "/v1/consent",
        "post",
        consent_api.post_consent,
        "Record consent decisions",
        "consent:write",
        {JSON: ref("ConsentRequest")},
        {"subject": {"email": "ann@example.com"}, "purposes": {"analytics_storage": "granted"}},
        responses={
            "202": _answer("Recorded; the next hit and GA4 send obey it.", ref("ConsentRecorded")),
            "503": {"$ref": "#/components/responses/Unavailable"},
        },
    ),
    Operation(
        "/v1/consent",
        "get",
        consent_api.get_consent,
        "A person's current decision for each purpose",
        "consent:read",
        parameters=[
            _query(k, f"The person's {k} (at least one of email, subscriber, user_id, client_id).")
            for k in ("email", "subscriber", "user_id", "client_id")
        ]
        + [_query("region", "A two-letter country code.", {"type": "string", "pattern": "^[A-Za-z]{2}$"})],
        responses={
            "200": _answer("Each purpose's decision and why.", ref("ConsentState")),
            "422": {"$ref": "#/components/responses/Invalid"},
        },
    ),
    Operation(
        "/v1/erasure",
        "post",
        erasure_api.erasure,
        "Erase a person from every store",
        "erasure:write",
        {JSON: ref("ErasureRequest")},
        {"email": "ann@example.com"},
        responses={
            "200": _answer("What was erased, by store; no personal data.", ref("Erasure")),
            "503": _answer("The warehouse is away or a step failed: run it again.", ref("Error")),
        },
    ),
    Operation(
        "/v1/ga4/status",
        "get",
        ga4_status_api.ga4_status,
        "The running gateway's GA4 relay",
        "ga4:read",
        responses={"200": _answer("Mode, origin, measurement id and the ledger's counts.", ref("Ga4Status"))},
    ),
    Operation(
        "/v1/settings",
        "get",
        operator_api.get_settings,
        "The running gateway's effective settings",
        "admin",
        responses={
            "200": _answer("Every setting, secrets masked, and where this gateway runs.", ref("EffectiveSettings"))
        },
    ),
    Operation(
        "/v1/identity/explain",
        "get",
        operator_api.explain_identifier,
        "Who the identity graph says is behind an identifier",
        "identity:read",
        parameters=[
            _query(
                "identifier",
                "kind:value; a raw email or subscriber key is pseudonymised as erasure does.",
                {"type": "string", "examples": ["email:ann@example.com"]},
                required=True,
            )
        ],
        responses={
            "200": _answer("The person and the edges that join the identifier.", ref("IdentityExplanation")),
            "404": _answer("No edge names the identifier.", ref("Error")),
            "422": {"$ref": "#/components/responses/Invalid"},
            "503": _answer("The identity graph is still loading.", ref("Error")),
        },
    ),
    Operation(
        "/v1/attribution",
        "get",
        attribution_api.attribution_report,
        "Attribution credits of one model",
        "reports:read",
        parameters=[
            _query(
                "model",
                "The model.",
                {
                    "type": "string",
                    "enum": SCHEMAS["AttributionReport"]["properties"]["model"]["enum"],
                    "default": "linear",
                },
            ),
            _query(
                "group_by",
                "The grouping.",
                {**SCHEMAS["AttributionReport"]["properties"]["group_by"], "default": "channel"},
            ),
            _query("since", "Conversions from this ISO 8601 time."),
            _query("until", "Conversions before this ISO 8601 time."),
        ],
        responses={
            "200": _answer("Credits by group, and what the data-driven model learned.", ref("AttributionReport")),
            "422": {"$ref": "#/components/responses/Invalid"},
            "503": _answer("The warehouse is not connected.", ref("Error")),
        },
    ),
    Operation(
        "/v1/attribution/runs",
        "post",
        attribution_api.start_run,
        "Start an attribution run",
        "attribution:run",
        {JSON: ref("RunRequest")},
        {"models": ["linear", "last_touch"]},
        body_required=False,
        responses={
            "202": _answer(
                "Queued; poll the status URL.", ref("RunStatus"), headers={"Location": "The run's status URL."}
            )
        },
    ),
    Operation(
        "/v1/attribution/runs/{run_id}",
        "get",
        attribution_api.run_status,
        "An attribution run's status",
        "attribution:run",
        parameters=[{"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        responses={
            "200": _answer("Queued, running (with its step), done or failed.", ref("RunStatus")),
            "404": _answer("No such run (statuses are kept until a restart).", ref("Error")),
        },
    ),
    Operation(
        "/mp/collect",
        "post",
        mp_ingest.collect,
        "Measurement Protocol drop-in",
        tag="Measurement Protocol",
        body={"application/json": ref("MpEvent")},
        example={"client_id": "123456789.1700000000", "events": [{"name": "page_view", "params": {}}]},
        parameters=[
            _query("measurement_id", "Your G- measurement id.", required=True),
            _query("api_secret", "A secret from `ga4gw ga4 secret issue` (not Google's).", required=True),
        ],
        responses={
            "204": _answer(
                "Stored; relayed to GA4 under consent.",
                headers={"X-GA4GW-Dropped": "Fields not kept.", "X-GA4GW-Withheld": "Not relayed."},
            ),
            "400": _answer(
                "The validator's messages (or a missing measurement_id).",
                {"oneOf": [ref("ValidationMessages"), ref("MpError")]},
            ),
            "403": _answer("The api_secret or measurement_id is refused.", ref("MpError")),
            "413": {"$ref": "#/components/responses/TooLarge"},
            "503": {"$ref": "#/components/responses/Unavailable"},
        },
    ),
    Operation(
        "/debug/mp/collect",
        "post",
        debug_route.debug_collect,
        "Validate a Measurement Protocol body",
        tag="Measurement Protocol",
        body={"application/json": ref("MpEvent")},
        example={"client_id": "123456789.1700000000", "events": [{"name": "page_view"}]},
        responses={"200": _answer("Google's validation answer (empty when valid).", ref("ValidationMessages"))},
    ),
    Operation(
        "/healthz",
        "get",
        health.healthz,
        "The process answers",
        tag="Service",
        responses={"200": _answer("Alive.", ref("Health"))},
    ),
    Operation(
        "/readyz",
        "get",
        health.readyz,
        "The gateway can do its job",
        tag="Service",
        responses={
            "200": _answer("Ready.", ref("Readiness")),
            "503": _answer("Not ready; problems says why.", ref("Readiness")),
        },
    ),
    Operation(
        "/metrics",
        "get",
        metrics_routes()[0].endpoint,
        "Prometheus metrics",
        tag="Service",
        responses={"200": _answer("The text exposition format.", {"type": "string"}, "text/plain")},
    ),
)
