"""Issue 15, defect 5: past events are the warehouse's; the 72 hours are GA4's, decided by the relay.

The attack: a shop sends a purchase made four days ago. Before, ``/v1/events`` answered 422 and ``/mp/collect``
400, even with ``GA4GW_GA4_EXPIRED=clamp``, naming ``events[0].timestamp_micros`` (a field the shop never sent).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.ga4.standin import StandIn
from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.conftest import wait_for
from tests.gateway.ga4.test_relay_live import ga4_settings, post_events, sql, status

pytestmark = pytest.mark.live

DAY = 86_400


def purchase(at: float | str, tid: str = "T-OLD-1") -> dict:
    return {"name": "purchase", "client_id": "111.222", "time": at,
            "params": {"transaction_id": tid, "value": 42.5, "currency": "EUR"}}  # fmt: skip


@pytest.fixture
def clamping(tmp_path: Path, standin: StandIn) -> Iterator[LiveGateway]:
    gw = start_gateway(tmp_path / "data", **ga4_settings(standin, GA4GW_GA4_EXPIRED="clamp"))
    yield gw
    gw.stop()


def test_a_four_day_old_purchase_is_stored_with_its_time_and_dead_lettered_expired(
    tmp_path: Path, standin: StandIn
) -> None:
    gw = start_gateway(tmp_path / "data", **ga4_settings(standin))
    try:
        at = int(time.time()) - 4 * DAY
        answer = post_events(gw, [purchase(at)], gw.token("events:write"))
        assert answer.status_code == 202, answer.text
        wait_for(lambda: sql(gw, "SELECT count() FROM events").strip() == "1")
        assert sql(gw, "SELECT toUnixTimestamp(event_time), transaction_id FROM events").strip() == f"{at}\tT-OLD-1"
        wait_for(lambda: status(gw)["dead_letters"] == {"expired": 1})
        time.sleep(0.3)
        assert standin.events() == []  # GA4 would have moved or dropped it: the relay's choice, documented
    finally:
        gw.stop()


def test_with_clamp_the_old_purchase_is_stored_with_its_time_and_relayed_clamped(
    clamping: LiveGateway, standin: StandIn
) -> None:
    gw = clamping
    at = int(time.time()) - 4 * DAY
    answer = post_events(gw, [purchase(at)], gw.token("events:write"))
    assert answer.status_code == 202, answer.text
    wait_for(lambda: len(standin.events()) == 1)
    [(_, sent)] = standin.events()
    assert time.time() - 72 * 3600 < sent["timestamp_micros"] / 1e6 < time.time() - 71 * 3600  # clamped for GA4
    wait_for(lambda: sql(gw, "SELECT count() FROM events").strip() == "1")
    assert sql(gw, "SELECT toUnixTimestamp(event_time) FROM events").strip() == str(at)  # its own time kept


def test_mp_collect_takes_a_four_day_old_event_and_stores_its_time(clamping: LiveGateway) -> None:
    gw = clamping
    issued = run_cli("ga4", "secret", "issue", "--name", "shop-backend", env=gw.env).stdout.strip()
    at = int(time.time()) - 4 * DAY
    body = {"client_id": "555.666", "events": [{"name": "purchase", "timestamp_micros": at * 1_000_000,
            "params": {"transaction_id": "T-MP-OLD", "value": 10, "currency": "EUR"}}]}  # fmt: skip
    answer = httpx.post(gw.url + "/mp/collect", params={"measurement_id": "G-TEST123", "api_secret": issued}, json=body)
    assert answer.status_code == 204, answer.text
    wait_for(lambda: sql(gw, "SELECT count() FROM events").strip() == "1")
    assert sql(gw, "SELECT toUnixTimestamp(event_time) FROM events").strip() == str(at)


def test_times_the_warehouse_cannot_hold_or_from_the_future_name_the_field_the_client_sent(
    clamping: LiveGateway,
) -> None:
    gw = clamping
    token = gw.token("events:write")
    future = post_events(gw, [purchase(int(time.time()) + 3600, "T-F")], token)
    assert future.status_code == 422
    assert list(future.json()["fields"]) == ["events[0].time"]
    ancient = post_events(gw, [purchase("1999-12-31T23:00:00Z", "T-A")], token)
    assert ancient.status_code == 422
    assert list(ancient.json()["fields"]) == ["events[0].time"]
    issued = run_cli("ga4", "secret", "issue", "--name", "shop-backend", env=gw.env).stdout.strip()
    body = {"client_id": "555.666", "events": [{"name": "page_view", "timestamp_micros": 631_152_000_000_000}]}
    refused = httpx.post(gw.url + "/mp/collect", params={"measurement_id": "G-TEST123", "api_secret": issued},
                         json=body)  # fmt: skip
    assert refused.status_code == 400
    [message] = refused.json()["validationMessages"]
    assert message["fieldPath"] == "events[0].timestamp_micros"  # the MP sender's own field, 1990
    time.sleep(1.0)
    assert sql(gw, "SELECT count() FROM events").strip() == "0"
