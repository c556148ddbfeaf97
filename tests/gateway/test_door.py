"""Issue 11's attacks on the storing thread and the pipeline, each against a real gateway under uvicorn.

A lone surrogate once stopped the outbox's writer (every click and pixel then hung), a purchase worth 1e30
blocked the warehouse for good, deep nesting and bad text answered 500, and ``/readyz`` echoed whole rows.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.edge.tracking import GIF
from gateway.stores.outbox import Outbox
from tests.conftest import LiveGateway, run_cli, start_gateway
from warehouse import EventRow

pytestmark = pytest.mark.live

MP_ID = "G-TEST123"
SESSION = {"session_id": "1700000000", "engagement_time_msec": 1}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    """One gateway for the module's attacks: each must leave it working for the next."""
    gw = start_gateway(tmp_path_factory.mktemp("door") / "data", GA4GW_GA4_MEASUREMENT_ID=MP_ID)
    yield gw
    gw.stop()


def _auth(gw: LiveGateway, scope: str, **headers: str) -> dict[str, str]:
    return {"authorization": f"Bearer {gw.token(scope)}", **headers}


def mp_secret(gw: LiveGateway) -> str:
    if "mp" not in gw.extra:
        gw.extra["mp"] = run_cli("ga4", "secret", "issue", "--name", "door", env=gw.env).stdout.strip().split()[-1]
    return gw.extra["mp"]


def mp_post(gw: LiveGateway, body: bytes, content_type: str = "application/json") -> httpx.Response:
    params = {"measurement_id": MP_ID, "api_secret": mp_secret(gw)}
    return httpx.post(gw.url + "/mp/collect", params=params, content=body, headers={"content-type": content_type},
                      timeout=10)  # fmt: skip


def edge_paths(gw: LiveGateway) -> tuple[str, str]:
    """A tracked click path and a pixel path (signed by the gateway)."""
    if "click" not in gw.extra:
        made = httpx.post(gw.url + "/v1/links", headers=_auth(gw, "links:write"),
                          json={"campaign": "door", "recipient": "sub-door", "sent_at": int(time.time()) - 60,
                                "urls": ["https://shop.example/sale"]}).json()  # fmt: skip
        gw.extra["click"] = urlsplit(made["links"][0]["tracked"]).path
        gw.extra["pixel"] = urlsplit(made["pixel"]).path
    return gw.extra["click"], gw.extra["pixel"]


def assert_edge_answers(gw: LiveGateway) -> None:
    """Clicks get their redirect and pixels their GIF, at once: nothing stopped the thread that stores hits."""
    click, pixel = edge_paths(gw)
    redirected = httpx.get(gw.url + click, timeout=5)
    assert redirected.status_code == 302
    assert redirected.headers["location"].startswith("https://shop.example/sale?")
    opened = httpx.get(gw.url + pixel, timeout=5)
    assert opened.status_code == 200
    assert opened.content == GIF


def sql(gw: LiveGateway, query: str) -> str:
    answer = httpx.post(gw.url + "/clickhouse/", content=query.encode(), auth=("t", gw.token("sql:read")), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text.strip()


def eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def drained(gw: LiveGateway) -> bool:
    return bool(httpx.get(gw.url + "/readyz").json()["outbox"]["pending"] == 0)


# Critical 3 -------------------------------------------------------------------------------------------


def test_a_lone_surrogate_in_an_mp_param_is_refused_and_the_edge_keeps_answering(gateway: LiveGateway) -> None:
    body = {"client_id": "1.2", "events": [{"name": "page_view", "params": {"x": "\ud800", **SESSION}}]}
    answer = mp_post(gateway, json.dumps(body).encode())  # ensure_ascii: the surrogate travels as \ud800
    assert answer.status_code == 400
    [message] = answer.json()["validationMessages"]
    assert message["fieldPath"] == "events[0].params.x"
    assert message["validationCode"] == "VALUE_INVALID"
    assert_edge_answers(gateway)
    ok = {"client_id": "1.2", "events": [{"name": "page_view", "params": {"x": "after", **SESSION}}]}
    assert mp_post(gateway, json.dumps(ok).encode()).status_code == 204
    ready = httpx.get(gateway.url + "/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["threads"] == {"outbox_writer": "ok", "pipeline": "ok", "ga4_relay": "ok"}
    eventually(lambda: sql(gateway, "SELECT count() FROM events WHERE params['x'] = 'after'") == "1", "the event")


@pytest.mark.parametrize(
    ("route", "scope", "body", "field"),
    [
        ("/v1/events", "events:write", {"events": [{"name": "page_view", "client_id": "1.2",
                                                   "params": {"page_title": "\ud800"}}]},
         "events[0].params.page_title"),
        ("/v1/events", "events:write", {"events": [{"name": "page_view", "client_id": "1.2",
                                                   "params": {"\udfff": "x"}}]}, "events[0].params"),
        ("/v1/links", "links:write", {"campaign": "c\ud83d", "recipient": "sub-1", "urls": ["https://shop.example"]},
         "campaign"),
        ("/v1/identify", "identity:write", {"landing_token": "x", "client_id": "1.2", "user_id": "\udc00"},
         "user_id"),
        ("/v1/consent", "consent:write", {"subject": {"user_id": "u\ud800"}, "purposes": {"ad_storage": "granted"}},
         "subject.user_id"),
        # issue 11 item 13: a lone surrogate in an erasure's reason used to delete the data and then fail
        ("/v1/erasure", "erasure:write", {"email": "ann@example.com", "reason": "gdpr \ud800"}, "reason"),
    ],
)  # fmt: skip
def test_lone_surrogates_are_refused_at_every_json_route_naming_the_field(
    gateway: LiveGateway, route: str, scope: str, body: dict[str, object], field: str
) -> None:
    answer = httpx.post(gateway.url + route, content=json.dumps(body).encode(),
                        headers=_auth(gateway, scope, **{"content-type": "application/json"}))  # fmt: skip
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["fields"]
    assert "surrogate" in answer.json()["fields"][field]
    assert_edge_answers(gateway)


def test_an_erasure_refused_at_the_door_deletes_nothing_and_writes_no_audit(gateway: LiveGateway) -> None:
    before = sql(gateway, "SELECT count() FROM erasure_audit")
    body = json.dumps({"identifier": "recipient:sub-door", "reason": "\ud800"}).encode()
    answer = httpx.post(gateway.url + "/v1/erasure", content=body,
                        headers=_auth(gateway, "erasure:write", **{"content-type": "application/json"}))  # fmt: skip
    assert answer.status_code == 400
    assert sql(gateway, "SELECT count() FROM erasure_audit") == before


def test_bytes_that_are_not_utf8_are_refused(gateway: LiveGateway) -> None:
    headers = _auth(gateway, "events:write", **{"content-type": "application/json"})
    answer = httpx.post(gateway.url + "/v1/events", content=b'{"events": [{"name": "\xff\xfe"}]}', headers=headers)
    assert answer.status_code == 400
    assert answer.json()["fields"] == {"body": "JSON in UTF-8"}
    assert mp_post(gateway, b'{"client_id": "1.2", "events": [{"name": "\xc3"}]}').status_code == 400


# Low: deep nesting and numbers JSON cannot hold ------------------------------------------------------


@pytest.mark.parametrize("depth", [40, 10_000])
def test_deep_nesting_is_a_400_at_every_door(gateway: LiveGateway, depth: int) -> None:
    deep = "[" * depth + "]" * depth
    body = f'{{"events": [{{"name": "page_view", "client_id": "1.2", "params": {{"x": {deep}}}}}]}}'.encode()
    for route, scope in (("/v1/events", "events:write"), ("/v1/consent", "consent:write")):
        answer = httpx.post(gateway.url + route, content=body,
                            headers=_auth(gateway, scope, **{"content-type": "application/json"}))  # fmt: skip
        assert answer.status_code == 400, (route, answer.text)
        assert "nested" in answer.text
    assert mp_post(gateway, body.replace(b'"events"', b'"client_id": "1.2", "events"')).status_code == 400
    debug = httpx.post(gateway.url + "/debug/mp/collect", content=body)
    assert debug.status_code == 200
    assert debug.json()["validationMessages"][0]["validationCode"] == "VALUE_INVALID"
    assert_edge_answers(gateway)


def test_a_number_json_reads_as_infinity_is_refused(gateway: LiveGateway) -> None:
    body = b'{"events": [{"name": "page_view", "client_id": "1.2", "params": {"score": 1e400}}]}'
    answer = httpx.post(gateway.url + "/v1/events", content=body,
                        headers=_auth(gateway, "events:write", **{"content-type": "application/json"}))  # fmt: skip
    assert answer.status_code == 400
    assert "events[0].params.score" in answer.json()["fields"]


def test_a_link_sent_in_year_one_is_refused_and_the_gateway_keeps_answering(gateway: LiveGateway) -> None:
    """Found by the property test: a negative send time looped for ever in base 36, on the event loop."""
    body = {"campaign": "c", "recipient": "sub-1", "urls": ["https://shop.example"], "sent_at": "0001-01-01T00:00:00Z"}
    answer = httpx.post(gateway.url + "/v1/links", json=body, headers=_auth(gateway, "links:write"), timeout=10)
    assert answer.status_code == 422
    assert "sent_at" in answer.json()["fields"]
    assert_edge_answers(gateway)


# High 4 and Low: numbers against their columns -------------------------------------------------------


def test_a_purchase_worth_1e30_is_refused_naming_the_field(gateway: LiveGateway) -> None:
    purchase = {"name": "purchase", "client_id": "1.2",
                "params": {"transaction_id": "T-1E30", "value": 1e30, "currency": "EUR"}}  # fmt: skip
    answer = httpx.post(gateway.url + "/v1/events", json={"events": [purchase]}, headers=_auth(gateway, "events:write"))
    assert answer.status_code == 422
    assert "1,000,000,000,000" in answer.json()["fields"]["events[0].params.value"]
    items = {**purchase, "params": {**purchase["params"], "value": 5,  # type: ignore[dict-item]
                                    "items": [{"item_id": "A", "price": -1e13, "quantity": 10**10}]}}  # fmt: skip
    fields = httpx.post(gateway.url + "/v1/events", json={"events": [items]},
                        headers=_auth(gateway, "events:write")).json()["fields"]  # fmt: skip
    assert {"events[0].params.items[0].price", "events[0].params.items[0].quantity"} <= set(fields)
    mp = {"client_id": "1.2", "events": [{"name": "purchase", "params": {
        "transaction_id": "T-MP-1E30", "value": 1e30, "currency": "EUR", **SESSION}}]}  # fmt: skip
    refused = mp_post(gateway, json.dumps(mp).encode())
    assert refused.status_code == 400
    assert refused.json()["validationMessages"][0] == {
        "fieldPath": "events[0].params.value", "validationCode": "VALUE_OUT_OF_BOUNDS",
        "description": "must be under 1,000,000,000,000 in size"}  # fmt: skip


@pytest.mark.parametrize("moment", [5, "1970-01-02T00:00:00Z", 10**12, -(10**400), "0001-01-01T00:00:00+01:00"])
def test_times_the_warehouse_cannot_read_are_refused(gateway: LiveGateway, moment: object) -> None:
    event = {"name": "page_view", "client_id": "1.2", "time": moment}
    answer = httpx.post(gateway.url + "/v1/events", content=json.dumps({"events": [event]}).encode(),
                        headers=_auth(gateway, "events:write", **{"content-type": "application/json"}))  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert "events[0].time" in answer.json()["fields"]
    consent = {"subject": {"user_id": "crm-4"}, "purposes": {"ad_storage": "granted"}, "time": moment}
    answer = httpx.post(gateway.url + "/v1/consent", content=json.dumps(consent).encode(),
                        headers=_auth(gateway, "consent:write", **{"content-type": "application/json"}))  # fmt: skip
    assert answer.status_code == 422, answer.text  # the consent route built its row with the wrong time: 500
    assert "body.time" in answer.json()["fields"]


def test_an_mp_purchase_whose_value_is_not_a_number_is_refused_not_stored(gateway: LiveGateway) -> None:
    mp = {"client_id": "1.2", "events": [{"name": "purchase", "params": {
        "transaction_id": "T-BAD", "value": "bad", "currency": "EUR", **SESSION}}]}  # fmt: skip
    refused = mp_post(gateway, json.dumps(mp).encode())
    assert refused.status_code == 400
    assert refused.json()["validationMessages"][0]["fieldPath"] == "events[0].params.value"
    numeric = {**mp, "events": [{"name": "purchase", "params": {
        "transaction_id": "T-TEXT", "value": "59.90", "currency": "EUR", **SESSION}}]}  # fmt: skip
    assert mp_post(gateway, json.dumps(numeric).encode()).status_code == 204  # a number written as text is one
    eventually(lambda: sql(gateway, "SELECT count() FROM events WHERE transaction_id = 'T-TEXT'") == "1", "T-TEXT")
    assert sql(gateway, "SELECT toString(value) FROM events WHERE transaction_id = 'T-TEXT'") == "59.9"
    assert sql(gateway, "SELECT count() FROM events WHERE transaction_id = 'T-BAD'") == "0"


# Low: Content-Type ------------------------------------------------------------------------------------


def test_json_routes_require_the_json_media_type(gateway: LiveGateway) -> None:
    event = json.dumps({"events": [{"name": "page_view", "client_id": "1.2"}]}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", ""):
        answer = httpx.post(gateway.url + "/v1/events", content=event,
                            headers=_auth(gateway, "events:write", **{"content-type": content_type}))  # fmt: skip
        assert answer.status_code == 415, content_type
        assert answer.json()["fields"] == {"content-type": "application/json (UTF-8)"}
    for content_type in ("application/json", "Application/JSON; charset=UTF-8"):
        answer = httpx.post(gateway.url + "/v1/events", content=event,
                            headers=_auth(gateway, "events:write", **{"content-type": content_type}))  # fmt: skip
        assert answer.status_code == 202, content_type


@pytest.mark.parametrize("content_type", ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", ""])
def test_mp_collect_reads_json_whatever_the_media_type_like_google(gateway: LiveGateway, content_type: str) -> None:
    """sendBeacon and fetch with a string body send text/plain, PHP's curl and Python's urllib a form type."""
    body = {"client_id": "1.2", "events": [{"name": "page_view", "params": {"beacon": content_type or "none",
                                                                            **SESSION}}]}  # fmt: skip
    assert mp_post(gateway, json.dumps(body).encode(), content_type).status_code == 204


# High 4 across restarts, and Medium 9 ------------------------------------------------------------------


def _poison(at: datetime) -> EventRow:
    return EventRow(event_id="poison-1e30", event_time=at, received_at=at, event_name="purchase", source="server",
                    url="https://shop.example/thanks?mail=ann.poison@example.com", value=Decimal("1E+30"),
                    transaction_id="T-POISON")  # fmt: skip


def test_a_row_the_warehouse_refuses_is_quarantined_and_the_rest_flows_on(tmp_path: Path) -> None:
    """A poison row already in the outbox (accepted before this fix) no longer holds up what follows it, and
    ``/readyz`` counts it without showing it."""
    data = tmp_path / "data"
    data.mkdir()
    now = datetime.now(UTC)
    good = [EventRow(f"good-{i}", now, now, "email_open", "open", campaign_id="c-door") for i in range(5)]
    outbox = Outbox(data / "outbox.sqlite3", consumers=("warehouse", "ga4"))

    async def fill() -> None:
        rows = [good[0], _poison(now), *good[1:]]
        assert all(await asyncio.gather(*(outbox.append(r.event_id, r.to_json()) for r in rows)))

    asyncio.run(fill())
    outbox.close()
    gw = start_gateway(data)
    try:
        eventually(lambda: drained(gw), "the outbox to drain")
        assert sql(gw, "SELECT count() FROM events WHERE campaign_id = 'c-door'") == "5"
        assert sql(gw, "SELECT event_id, error_code, error_name FROM events_quarantine") == (
            "poison-1e30\t69\tARGUMENT_OUT_OF_BOUND"
        )
        assert sql(gw, "SELECT JSONExtractString(payload, 22) FROM events_quarantine") == "T-POISON"  # kept whole
        ready = httpx.get(gw.url + "/readyz")
        assert ready.status_code == 200
        assert ready.json()["outbox"]["quarantined"] == 1
        assert "ann.poison" not in ready.text
        assert "ga4gw_warehouse_quarantined_total 1" in httpx.get(gw.url + "/metrics").text
    finally:
        gw.stop()
    assert "ann.poison@example.com" not in gw.log()
    assert "events_quarantine" in gw.log()


def test_readyz_names_a_stalled_pipeline_in_fixed_words(tmp_path: Path) -> None:
    """The pipeline cannot store while events wait: 503 with the reason, and no DSN, row or message shown."""
    gw = start_gateway(tmp_path / "data", wait_ready=False, GA4GW_STALL_SECONDS="1",
                       GA4GW_WAREHOUSE_DSN="http://default:dsn-pass-789@127.0.0.1:9/shop")  # fmt: skip
    try:
        click, pixel = edge_paths(gw)
        assert httpx.get(gw.url + click, timeout=5).status_code == 302  # the edge answers through the outage
        assert httpx.get(gw.url + pixel, timeout=5).content == GIF
        stalled = "the pipeline has not stored a batch for over 1 s"
        eventually(lambda: httpx.get(gw.url + "/readyz").json()["threads"]["pipeline"] == stalled, "the stall")
        ready = httpx.get(gw.url + "/readyz")
        assert ready.status_code == 503
        assert stalled in ready.json()["problems"]
        assert ready.json()["threads"]["outbox_writer"] == "ok"
        assert ready.json()["outbox"]["last_error"] == "the warehouse is not connected"
        assert ready.json()["warehouse"]["error"].startswith("unreachable")
        assert "dsn-pass" not in ready.text
        assert "127.0.0.1:9" not in ready.text
    finally:
        gw.stop()
