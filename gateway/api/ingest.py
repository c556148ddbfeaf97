"""``POST /v1/events``: the shop backend's purchases, carts, checkouts, product and page views, sign-ups.

Body: ``{"events": [event, ...]}`` (at most ``GA4GW_EVENTS_MAX_PER_REQUEST``). An event::

    {"name": "purchase",                  purchase, add_to_cart, begin_checkout, view_item, page_view, sign_up,
                                          session_start (stored for attribution, never relayed to GA4)
     "event_id": "order-1001",            optional: the shop's own id; the same id is the same event
     "time": "2026-11-23T10:00:00Z",      optional (ISO 8601 or epoch seconds); default: now. Any time from
                                          2000 to a minute ahead: older than GA4's 72 hours is stored with its
                                          own time, and the relay dead-letters it "expired" (or clamps it)
     "client_id": "123456789.1700000000", the shop's GA client id, and/or
     "user_id": "crm-42",                 the shop's user id (stored as a keyed pseudonym), and/or
     "email": "ann@example.com",          (only its keyed pseudonym is kept: never stored raw)
     "session_id": "1700000000",          optional: the GA session the event belongs to
     "consent": {"analytics_storage": "granted", "ad_user_data": "denied"},   optional: the person's
                                          decisions (any of the five purposes), recorded in the ledger
     "region": "DE",                      optional: the person's country (the default policy's region)
     "traffic": {"source": "google", "medium": "cpc", "campaign": "winter"},   optional: the visit's channel
     "params": {"transaction_id": "T-1001", "value": 59.9, "currency": "EUR", "items": [...], ...}}

Every event is checked (the rules below, then the MP validator on the event it becomes): one wrong
field rejects the whole request with 422 and every wrong field named (``events[2].params.currency``),
so a retry after the fix cannot half-apply. The answer (202) comes only after the outbox committed
the events. A purchase whose transaction id was already taken is answered ``duplicate`` and not stored.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections import Counter, OrderedDict
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from consent import Purpose
from gateway.errors import InvalidRequest
from gateway.ga4.ledger import Ledger
from gateway.ga4.payloads import GA4_PARAMS, Outgoing
from gateway.ga4.validate import DEFAULT_LIMITS, MAX_AMOUNT, validate
from gateway.state.identity_link import person_of
from gateway.stores.outbox import Outbox
from gateway.telemetry.metrics import Metrics
from identity import Pseudonymizer
from identity.personal import PersonalData
from warehouse import EventRow

from .auth import authenticate
from .bodies import read_json

__all__ = [
    "CLIENT_ID",
    "EARLIEST",
    "EMAIL",
    "EVENT_NAMES",
    "INGEST_LIMITS",
    "TransactionIndex",
    "check_event",
    "count_personal_data",
    "moment",
    "routes",
    "server_row",
    "store",
]

EVENT_NAMES = frozenset(
    {"purchase", "add_to_cart", "begin_checkout", "view_item", "page_view", "sign_up", "session_start"}
)
_NEEDS_ITEMS = frozenset({"add_to_cart", "begin_checkout", "view_item"})
_KEYS = frozenset({"name", "event_id", "time", "client_id", "user_id", "email", "session_id", "consent", "region",
                   "traffic", "params"})  # fmt: skip
_PURPOSES = tuple(p.value for p in Purpose)
_REGION = re.compile(r"[A-Z]{2}")
CLIENT_ID = re.compile(r"[1-9][0-9]{0,19}\.[1-9][0-9]{0,19}")  # a GA client id, as the _ga cookie holds it
_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_CURRENCY = re.compile(r"[A-Z]{3}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_MAX_BODY = 4 * 1024 * 1024
_FUTURE_SECONDS = 60
# The warehouse reads an event time given as epoch seconds only from nine digits up (1973); nothing a shop
# sends is older than this, and a time it cannot read was once a row that blocked every insert after it.
EARLIEST = 946_684_800  # 2000-01-01T00:00:00Z
# GA4's 72 hours are not the warehouse's: a past event is stored with its own time, and the relay decides what GA4
# gets of it (dead letter "expired", or clamped with GA4GW_GA4_EXPIRED=clamp). So ingest validates with GA4's rules
# but no age limit; EARLIEST is the lower bound, checked on the field the client sent.
INGEST_LIMITS = replace(DEFAULT_LIMITS, max_age_seconds=100 * 366 * 86_400)
_MAX_QUANTITY = 1_000_000_000
_VALUE_CHARS = DEFAULT_LIMITS.param_value_chars
PERSONAL_DATA_METRIC = "ga4gw_personal_data_replaced_total"


class TransactionIndex:
    """Purchases already taken, by transaction id: the ledger's record plus those accepted since it last looked.

    The relay's intake is the authority (it never relays a transaction twice); this answers the shop
    early, so that a retried purchase is reported ``duplicate`` and not stored twice.
    """

    def __init__(self, ledger: Ledger, memory: int = 200_000) -> None:
        self._ledger = ledger
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._memory = memory

    def seen(self, transaction_ids: list[str]) -> set[str]:
        known = {t for t in transaction_ids if t in self._recent}
        rest = [t for t in transaction_ids if t not in known]
        return known | (self._ledger.known_transactions(rest) if rest else set())

    def remember(self, transaction_id: str) -> None:
        self._recent[transaction_id] = None
        if len(self._recent) > self._memory:
            self._recent.popitem(last=False)


def moment(value: object, path: str, errors: dict[str, str], now: float) -> float:
    """An event's time in epoch seconds (``now`` when absent or wrong: the wrong ones are in ``errors``)."""
    if value is None:
        return now
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1e12:  # float() would overflow
        errors[path] = "is in the future" if value > 0 else "must be in 2000 or later"
        return now
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            errors[path] = "not an ISO 8601 time (e.g. 2026-11-23T10:00:00Z) nor epoch seconds"
            return now
        if parsed.tzinfo is None:
            errors[path] = "an ISO 8601 time needs its offset (Z or +01:00)"
            return now
        try:
            seconds = parsed.timestamp()
        except (OverflowError, ValueError):  # year 1 with a positive offset, year 9999 with a negative one
            errors[path] = "must be in 2000 or later, and not in the future"
            return now
    else:
        errors[path] = "an ISO 8601 time or epoch seconds"
        return now
    if seconds > now + _FUTURE_SECONDS:  # and the wrong time is not returned: a caller may build a row anyway
        errors[path] = "is in the future"
        return now
    if seconds < EARLIEST:
        errors[path] = "must be in 2000 or later"
        return now
    return seconds


def _number(params: dict[str, Any], name: str, path: str, errors: dict[str, str]) -> Decimal | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        errors[f"{path}.{name}"] = "must be a number"
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        errors[f"{path}.{name}"] = "must be a number"
        return None
    if abs(amount) >= MAX_AMOUNT:  # the warehouse keeps Decimal(18, 6)
        errors[f"{path}.{name}"] = "must be under 1,000,000,000,000 in size"
        return None
    return amount


def _check_commerce(name: str, params: dict[str, Any], path: str, errors: dict[str, str]) -> None:
    value = _number(params, "value", path, errors)
    if value is not None and value < 0:
        errors[f"{path}.value"] = "must not be negative"
    currency = params.get("currency")
    if currency is not None and not (isinstance(currency, str) and _CURRENCY.fullmatch(currency)):
        errors[f"{path}.currency"] = "an ISO 4217 code in capitals, like EUR"
    elif value is not None and currency is None:
        errors[f"{path}.currency"] = "required when value is given"
    if name == "purchase":
        tid = params.get("transaction_id")
        if not isinstance(tid, str) or not tid.strip():
            errors[f"{path}.transaction_id"] = "a purchase needs its transaction id (a non-empty string)"
        if value is None and f"{path}.value" not in errors:
            errors[f"{path}.value"] = "a purchase needs its value"
    items = params.get("items")
    if items is None:
        if name in _NEEDS_ITEMS:
            errors[f"{path}.items"] = f"{name} needs its items"
        return
    if not isinstance(items, list) or not items:
        errors[f"{path}.items"] = "a non-empty list of items"
        return
    for i, item in enumerate(items):
        here = f"{path}.items[{i}]"
        if not isinstance(item, dict):
            errors[here] = "an item is an object"
            continue
        if not (item.get("item_id") or item.get("item_name")):
            errors[f"{here}.item_id"] = "an item needs item_id or item_name"
        _number(item, "price", here, errors)
        quantity = item.get("quantity")
        if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)
                                     or not 1 <= quantity <= _MAX_QUANTITY):  # fmt: skip
            errors[f"{here}.quantity"] = f"a whole number, 1 to {_MAX_QUANTITY:,}"


def check_event(event: object, path: str, errors: dict[str, str], now: float) -> tuple[dict[str, Any], float] | None:
    """The event and its time when nothing is wrong with it; every problem goes into ``errors``."""
    if not isinstance(event, dict):
        errors[path] = "an event is an object"
        return None
    for key in event:
        if key not in _KEYS:
            errors[f"{path}.{key}"] = f"unknown field (known: {', '.join(sorted(_KEYS))})"
    name = event.get("name")
    if not isinstance(name, str) or name not in EVENT_NAMES:  # a list or an object is not hashable
        errors[f"{path}.name"] = f"one of {', '.join(sorted(EVENT_NAMES))}"
    event_id = event.get("event_id")
    if event_id is not None and not (isinstance(event_id, str) and _EVENT_ID.fullmatch(event_id)):
        errors[f"{path}.event_id"] = "1 to 64 letters, digits, '.', '_', ':' or '-'"
    client_id, user_id, email = event.get("client_id"), event.get("user_id"), event.get("email")
    if client_id is not None and not (isinstance(client_id, str) and CLIENT_ID.fullmatch(client_id)):
        errors[f"{path}.client_id"] = "a GA client id: two numbers joined by a dot, like 123456789.1700000000"
    if user_id is not None and not (isinstance(user_id, str) and 0 < len(user_id) <= 256):
        errors[f"{path}.user_id"] = "a non-empty string of at most 256 characters"
    if email is not None and not (isinstance(email, str) and EMAIL.fullmatch(email.strip())):
        errors[f"{path}.email"] = "an email address"
    if not (client_id or user_id or email):
        errors[path] = "name the person: client_id, user_id or email (at least one)"
    session = event.get("session_id")
    if session is not None and not (isinstance(session, (str, int)) and not isinstance(session, bool)
                                    and 0 < len(str(session)) <= 100):  # fmt: skip
        errors[f"{path}.session_id"] = "a string or number of at most 100 characters"
    region = event.get("region")
    if region is not None and not (isinstance(region, str) and _REGION.fullmatch(region.upper())):
        errors[f"{path}.region"] = "the person's country, a two-letter code like DE"
    for key, allowed in (("consent", _PURPOSES), ("traffic", ("source", "medium", "campaign"))):
        block = event.get(key)
        if block is None:
            continue
        if not isinstance(block, dict):
            errors[f"{path}.{key}"] = f"an object with {', '.join(allowed)}"
            continue
        for field, value in block.items():
            if field not in allowed:
                errors[f"{path}.{key}.{field}"] = f"unknown field (known: {', '.join(allowed)})"
            elif key == "consent" and str(value).lower() not in ("granted", "denied"):
                errors[f"{path}.{key}.{field}"] = "granted or denied"
            elif key == "traffic" and not (isinstance(value, str) and len(value) <= 100):
                errors[f"{path}.{key}.{field}"] = "a string of at most 100 characters"
    params = event.get("params", {})
    if not isinstance(params, dict):
        errors[f"{path}.params"] = "an object"
        return None
    if isinstance(name, str) and name in EVENT_NAMES:
        _check_commerce(name, params, f"{path}.params", errors)
    return event, moment(event.get("time"), f"{path}.time", errors, now)


def _consent(event: dict[str, Any]) -> dict[str, str]:
    """The event's own consent decisions, and the person's country when the shop knows it."""
    consent = {k: str(v).lower() for k, v in (event.get("consent") or {}).items()}
    if event.get("region"):
        consent["region"] = str(event["region"]).upper()
    return consent


def server_row(
    event: dict[str, Any],
    at: float,
    pseudonymizer: Pseudonymizer,
    source: str,
    now: float,
    found: Counter[str] | None = None,
) -> EventRow:
    """The warehouse row of a checked event: pseudonyms only, typed MP params kept for the relay.

    Emails and phone numbers inside params and traffic values (``page_location``'s query, a custom
    param) become their pseudonyms here, before the row is validated, stored or relayed; ``found``
    counts them.
    """
    found = Counter() if found is None else found
    personal = PersonalData(pseudonymizer)
    params: dict[str, Any] = personal.value(dict(event.get("params") or {}), found, max_chars=_VALUE_CHARS)
    email = event.get("email")
    user_id = event.get("user_id")
    stored: dict[str, str] = {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
                              for k, v in params.items()}  # fmt: skip
    stored[GA4_PARAMS] = json.dumps(params, ensure_ascii=False, separators=(",", ":"))
    if email:
        stored["email_pseudonym"] = pseudonymizer.email(email)
    for key, value in (event.get("traffic") or {}).items():
        stored[key] = personal.value(value, found, key, max_chars=_VALUE_CHARS)
    event_id = event.get("event_id")
    moment = datetime.fromtimestamp(at, UTC)
    value = params.get("value")
    row = EventRow(
        event_id=f"{source}-{event_id}" if event_id else f"{source}-{secrets.token_hex(12)}",
        event_time=moment,
        received_at=datetime.fromtimestamp(now, UTC),
        event_name=str(event["name"]),
        source=source,
        ga_client_id=str(event.get("client_id") or ""),
        user_id=pseudonymizer.pseudonym("us", str(user_id)) if user_id else "",
        session_id=str(event.get("session_id") or ""),
        consent=_consent(event),
        url=str(params.get("page_location", ""))[:2048],
        value=_amount(value),
        currency=str(params.get("currency", "")),
        transaction_id=str(params.get("transaction_id", "")) if event["name"] == "purchase" else "",
        params=stored,
    )
    return replace(row, person_id=person_of(row, pseudonymizer))


def _amount(value: object) -> Decimal:
    """The ``value`` column of a checked event: a number, or an MP sender's string holding one (else 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return Decimal(0)
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        return Decimal(0)
    return amount if amount.is_finite() and abs(amount) < MAX_AMOUNT else Decimal(0)


def count_personal_data(metrics: Metrics, found: Counter[str], route: str) -> None:
    """Count the emails and phone numbers replaced in what ``route`` stored (``PERSONAL_DATA_METRIC``)."""
    for kind, count in found.items():
        metrics.inc(PERSONAL_DATA_METRIC, count, kind=kind, route=route)


async def store(
    rows: list[EventRow], outbox: Outbox, transactions: TransactionIndex, private: str | None = None
) -> list[dict[str, str]]:
    """Commit ``rows`` to the outbox (purchases already taken are not), then answer each one's fate.

    ``private``: what only the relay may read, with every row (``Outbox.append``; MP ingest's ``user_data``).
    """
    if outbox.depth() + len(rows) >= outbox.max_events:  # all or nothing: a retry must not store half twice
        raise InvalidRequest("the gateway's outbox is full (GA4GW_OUTBOX_MAX_EVENTS); retry later", status=503)
    tids = [r.transaction_id for r in rows if r.transaction_id]
    known = transactions.seen(tids) if tids else set()
    fates: list[dict[str, str]] = []
    futures = []
    for row in rows:
        if row.transaction_id and row.transaction_id in known:
            fates.append({"event_id": row.event_id, "status": "duplicate", "transaction_id": row.transaction_id})
            continue
        if row.transaction_id:
            known.add(row.transaction_id)  # twice in one request: the first wins
        futures.append((len(fates), outbox.append(row.event_id, row.to_json(), private)))
        fates.append({"event_id": row.event_id, "status": "accepted"})
    for index, future in futures:
        if not await future:
            raise InvalidRequest("the gateway's outbox is full; retry later", status=503)
        fates[index]["status"] = "accepted"
    for row in rows:
        if row.transaction_id:
            transactions.remember(row.transaction_id)
    return fates


async def post_events(request: Request) -> JSONResponse:
    """``POST /v1/events`` (scope ``events:write``): 202 once every event is durably in the outbox."""
    authenticate(request, "events:write")
    state = request.app.state
    body = await read_json(request, _MAX_BODY)
    events = body.get("events")
    limit = state.settings.events_max_per_request
    if not isinstance(events, list) or not events:
        raise InvalidRequest('send {"events": [...]}', {"events": "a non-empty list of events"})
    if len(events) > limit:
        raise InvalidRequest(f"{len(events)} events; at most {limit} per request (GA4GW_EVENTS_MAX_PER_REQUEST)",
                             {"events": f"at most {limit} events"})  # fmt: skip
    now = time.time()
    errors: dict[str, str] = {}
    checked = [check_event(event, f"events[{i}]", errors, now) for i, event in enumerate(events)]
    rows: list[EventRow] = []
    found: Counter[str] = Counter()
    for i, item in enumerate(checked):
        if errors or item is None:
            break
        row = server_row(*item, state.pseudonymizer, "server", now, found)
        built = state.relay_builder.build(row)
        if isinstance(built, Outgoing):  # what GA4 would refuse is refused here, named as the shop wrote it
            for message in validate(built.body(), now=now, limits=INGEST_LIMITS):
                path = message.field_path
                if path.endswith("timestamp_micros"):  # the MP field made of the shop's own "time"
                    path = "events[0].time"
                field = path.replace("events[0]", f"events[{i}]", 1) if path.startswith("events") else f"events[{i}]"
                errors[field] = f"{message.description} ({message.code.value})"
        rows.append(row)
    if errors:
        raise InvalidRequest(f"{len(errors)} problem(s) in the events; nothing was stored", errors)
    fates = await store(rows, state.outbox, state.transactions)
    count_personal_data(state.metrics, found, "events")
    state.consent.add_rows(rows)  # the very next send obeys the decisions these events state
    accepted = sum(1 for f in fates if f["status"] == "accepted")
    return JSONResponse({"accepted": accepted, "events": fates}, status_code=202)


def routes() -> list[Route]:
    return [Route("/v1/events", post_events, methods=["POST"])]
