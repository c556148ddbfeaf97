"""Whatever a client throws at the write routes, the edge keeps answering and every accepted event is stored.

Arbitrary JSON, lone surrogates, numbers past every column, nesting far past the door's bound, in the
fields each route reads and next to valid values, at a real gateway under uvicorn. After each request a
click must still get its 302 and a pixel its GIF, and no answer may be a 500; at the end every event a
route accepted (2xx) must be in the warehouse, read back through the analyst interface.

80 examples by default (about 25 s); ``DOOR_EXAMPLES=600`` for a longer hunt (it found the unhashable event
name that answered 500).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import start_gateway
from tests.gateway.test_door import MP_ID, assert_edge_answers, drained, eventually, mp_secret, sql

pytestmark = pytest.mark.live

_DEEP = "__deep__"  # replaced in the serialised body by nesting json.dumps could not write (it recurses)
_SURROGATES = st.sampled_from(["\ud800", "\udfff", "\ud83d", "\udc00x"])
_text = st.text(max_size=12) | st.builds(lambda a, s, b: a + s + b, st.text(max_size=4), _SURROGATES,
                                         st.text(max_size=4))  # fmt: skip
_extreme = st.sampled_from([1e30, -1e30, 1e300, 10**19, 2**63, -(2**63) - 1, 10**40, 1e-30, 0.1234567, -1, 0])
_numbers = st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _extreme
_deep = st.integers(33, 20_000).map(lambda n: f"{_DEEP}{n}")
_junk = st.recursive(st.none() | st.booleans() | _numbers | _text | _deep,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                     max_leaves=8)  # fmt: skip


def _or_junk(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the valid value, one time in eight anything at all: whole requests get in too, not only errors."""
    return st.integers(0, 7).flatmap(lambda k: _junk if k == 0 else valid)


_when = st.sampled_from([None, "now_s", "now_s", "now_s", 5, 10**12, -1, "0001-01-01T00:00:00+01:00"])
_amount = st.one_of(st.integers(0, 10**6), st.floats(0, 1e6), _extreme, _text, st.just("59.90"))
_quantity = _or_junk(st.integers(1, 5)) | _extreme
_item = st.fixed_dictionaries(
    {"item_id": _or_junk(st.just("SKU-1"))}, optional={"price": _amount, "quantity": _quantity}
)
_shop_params = st.fixed_dictionaries(
    {},
    optional={
        "transaction_id": _or_junk(st.uuids().map(lambda u: f"T-{u.hex[:10]}")),
        "value": _amount,
        "currency": _or_junk(st.just("EUR")),
        "items": _or_junk(st.lists(_item, min_size=1, max_size=2)),
        "page_location": _or_junk(st.just("https://shop.example/p")),
        "note": _junk,
    },
)
_event = st.fixed_dictionaries(
    {"name": _or_junk(st.sampled_from(["purchase", "page_view", "add_to_cart", "sign_up"])),
     "client_id": _or_junk(st.just("1.1700000000"))},
    optional={"time": _or_junk(_when), "user_id": _or_junk(st.just("crm-1")), "params": _or_junk(_shop_params),
              "traffic": _or_junk(st.fixed_dictionaries({"source": _text})),
              "consent": _or_junk(st.just({"analytics_storage": "granted"})), "region": _or_junk(st.just("DE"))},
)  # fmt: skip
# Valid events with arbitrary (storable) values, so that accepted requests flow next to the refused ones.
_clean_text = st.text(st.characters(codec="utf-8"), max_size=40)
_clean_event = st.fixed_dictionaries(
    {"name": st.sampled_from(["page_view", "sign_up"]), "client_id": st.just("1.1700000000")},
    optional={"params": st.dictionaries(st.sampled_from(["page_title", "method", "note"]),
                                        _clean_text | st.integers(-(10**9), 10**9), max_size=3)},
)  # fmt: skip
_session = {"session_id": "1700000000", "engagement_time_msec": 1}
_mp_event = st.fixed_dictionaries(
    {"name": _or_junk(st.sampled_from(["purchase", "page_view", "sign_up"])),
     "params": _or_junk(_shop_params.map(lambda p: {**p, **_session}))},
    optional={"timestamp_micros": _or_junk(st.just("now_us"))},
)  # fmt: skip
_BODIES: dict[str, st.SearchStrategy[Any]] = {
    "/v1/events": _or_junk(st.fixed_dictionaries({"events": _or_junk(st.lists(_event, min_size=1, max_size=3))}))
    | st.fixed_dictionaries({"events": st.lists(_clean_event, min_size=1, max_size=3)}),
    "/mp/collect": _or_junk(st.fixed_dictionaries(
        {"client_id": _or_junk(st.just("1.1700000000")), "events": _or_junk(st.lists(_mp_event, min_size=1,
                                                                                     max_size=3))},
        optional={"user_id": _or_junk(st.just("crm-2")), "consent": _or_junk(st.just({"ad_user_data": "GRANTED"})),
                  "timestamp_micros": _or_junk(st.just("now_us")), "user_properties": _junk},
    )),
    "/debug/mp/collect": _junk,
    "/v1/links": _or_junk(st.fixed_dictionaries(
        {"campaign": _or_junk(st.just("prop")), "recipient": _or_junk(st.just("sub-prop")),
         "urls": _or_junk(st.lists(_or_junk(st.just("https://shop.example/x")), min_size=1, max_size=2))},
        optional={"sent_at": _or_junk(_when), "variant": _text, "email": _or_junk(st.just("p@example.com"))},
    )),
    "/v1/identify": _or_junk(st.fixed_dictionaries(
        {"landing_token": _text, "client_id": _or_junk(st.just("1.1700000000"))},
        optional={"user_id": _or_junk(st.just("crm-3"))},
    )),
    "/v1/consent": _or_junk(st.fixed_dictionaries(
        {"subject": _or_junk(st.fixed_dictionaries({"user_id": _or_junk(st.just("crm-4"))})),
         "purposes": _or_junk(st.just({"ad_storage": "granted"}))},
        optional={"time": _or_junk(_when), "policy_version": _text},
    )),
    "/v1/erasure": _or_junk(st.fixed_dictionaries(
        {"identifier": _or_junk(st.just("recipient:sub-nobody-prop"))}, optional={"reason": _text})),
}  # fmt: skip
_SCOPES = {"/v1/events": "events:write", "/v1/links": "links:write", "/v1/identify": "identity:write",
           "/v1/consent": "consent:write", "/v1/erasure": "erasure:write"}  # fmt: skip


def _serialise(body: Any, now: float) -> bytes:
    """JSON text as a careless client sends it: surrogates escaped, "now_*" made current, nesting written out."""
    text = json.dumps(body).replace('"now_us"', str(int(now * 1_000_000))).replace('"now_s"', f"{now:.3f}")
    while _DEEP in text:
        start = text.index(f'"{_DEEP}')
        end = text.index('"', start + 1)
        depth = int(text[start + 1 + len(_DEEP) : end])
        text = text[:start] + "[" * depth + "]" * depth + text[end + 1 :]
    return text.encode()


@dataclass
class Ledger:
    """What the gateway accepted, to find in the warehouse at the end."""

    event_ids: set[str] = field(default_factory=set)
    mp_events: int = 0
    transactions: set[str] = field(default_factory=set)
    statuses: dict[str, set[int]] = field(default_factory=dict)


def _expect(route: str, body: Any, answer: httpx.Response, ledger: Ledger) -> None:
    """Note what an accepted request stored (MP answers 204 without ids: its events are counted)."""
    if route in ("/v1/events", "/v1/consent") and answer.status_code == 202:
        fates = answer.json().get("events") or [
            {"event_id": e, "status": "accepted"} for e in answer.json()["event_ids"]
        ]
        ledger.event_ids |= {f["event_id"] for f in fates if f["status"] == "accepted"}
        for event in body.get("events", []) if route == "/v1/events" else []:
            if event["name"] == "purchase":
                ledger.transactions.add(str(event["params"]["transaction_id"]))
    elif route == "/v1/identify" and answer.status_code == 202:
        ledger.event_ids.add(answer.json()["event_id"])
    elif route == "/mp/collect" and answer.status_code == 204:
        for event in body["events"]:
            params = event.get("params") or {}
            tid = str(params.get("transaction_id", "")) if event["name"] == "purchase" else ""
            if tid and tid in ledger.transactions:
                continue  # a purchase already taken is not stored twice (the route answers 204 all the same)
            ledger.transactions.add(tid)
            ledger.mp_events += 1


def test_no_request_stops_the_edge_or_loses_an_accepted_event(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_GA4_MEASUREMENT_ID=MP_ID, GA4GW_PIPELINE_MAX_DELAY="0.2")
    ledger = Ledger()

    @settings(
        max_examples=int(os.environ.get("DOOR_EXAMPLES", "80")),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(data=st.data())
    def attack(data: st.DataObject) -> None:
        route = data.draw(st.sampled_from(sorted(_BODIES)), label="route")
        body = data.draw(_BODIES[route], label="body")
        raw = _serialise(body, time.time())
        headers = {"content-type": "application/json"}
        if route in _SCOPES:
            headers["authorization"] = f"Bearer {gw.token(_SCOPES[route])}"
        params = {"measurement_id": MP_ID, "api_secret": mp_secret(gw)} if route == "/mp/collect" else {}
        answer = httpx.post(gw.url + route, content=raw, headers=headers, params=params, timeout=30)
        ledger.statuses.setdefault(route, set()).add(answer.status_code)
        assert answer.status_code < 500, (route, raw[:300], answer.text[:300])
        if answer.is_success and route != "/debug/mp/collect":
            _expect(route, json.loads(raw), answer, ledger)
        assert_edge_answers(gw)

    try:
        attack()
        assert any(200 <= s < 300 for s in ledger.statuses.get("/v1/events", ())), ledger.statuses  # some got in
        eventually(lambda: drained(gw), "the outbox to drain", timeout=60)
        ids = ",".join(f"'{i}'" for i in sorted(ledger.event_ids)) or "''"
        stored = sql(gw, f"SELECT uniqExact(event_id) FROM events WHERE event_id IN ({ids})")
        assert stored == str(len(ledger.event_ids))
        assert sql(gw, "SELECT count() FROM events FINAL WHERE source = 'mp'") == str(ledger.mp_events)
        assert sql(gw, "SELECT count() FROM events_quarantine") == "0"  # the door let nothing unstorable in
        ready = httpx.get(gw.url + "/readyz")
        assert ready.status_code == 200, ready.text
    finally:
        gw.stop()
