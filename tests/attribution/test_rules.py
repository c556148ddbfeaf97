"""Journeys and rule-based models on hand-made data, with credits worked out by hand."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from attribution import MODELS, AttributionConfig, run_attribution
from warehouse import EventRow, Warehouse

from .data import T0, UNTIL, Journey, Touch, credits, insert, journey_events

DAY = 24 * 60


def _run(
    wh: Warehouse, *journeys: Journey, config: AttributionConfig | None = None, models: tuple[str, ...] = MODELS
) -> None:
    for journey in journeys:
        insert(wh, journey_events(journey))
    run_attribution(wh, config or AttributionConfig(), models=models, until=UNTIL)


def _shares(wh: Warehouse, model: str) -> list[tuple[str, float]]:
    return [(row[3], row[5]) for row in credits(wh, model)]


def test_rule_models_on_one_journey(warehouse: Warehouse) -> None:
    # google/cpc 4 days before, an email click 2 days before, then direct 1 day before the purchase.
    journey = Journey(
        "p1",
        (
            Touch("visit", 4 * DAY, channel="google / cpc"),
            Touch("click", 2 * DAY, campaign="spring"),
            Touch("visit", 1 * DAY, channel="direct"),
        ),
        revenue=Decimal("90"),
    )
    _run(warehouse, journey, models=("first_touch", "last_touch", "last_non_direct", "linear", "position_based"))
    assert _shares(warehouse, "first_touch") == [("google / cpc", 1.0)]
    assert _shares(warehouse, "last_touch") == [("direct", 1.0)]
    assert _shares(warehouse, "last_non_direct") == [("email", 1.0)]
    assert [round(s, 6) for _, s in _shares(warehouse, "linear")] == [0.333333] * 3
    assert _shares(warehouse, "position_based") == [("google / cpc", 0.4), ("email", 0.2), ("direct", 0.4)]
    revenue = {row[3]: row[6] for row in credits(warehouse, "position_based")}
    assert revenue == {"google / cpc": Decimal("36"), "email": Decimal("18"), "direct": Decimal("36")}


def test_position_based_with_one_and_two_touches(warehouse: Warehouse) -> None:
    one = Journey("p1", (Touch("click", 60),))
    two = Journey("p2", (Touch("click", 120, campaign="a"), Touch("click", 60, campaign="b")))
    _run(warehouse, one, two, models=("position_based",))
    rows = credits(warehouse, "position_based")
    assert [(r[1], r[4], r[5]) for r in rows] == [
        ("tx:tx-p1", "c1", 1.0),
        ("tx:tx-p2", "a", 0.5),
        ("tx:tx-p2", "b", 0.5),
    ]


def test_time_decay_halves_credit_per_half_life(warehouse: Warehouse) -> None:
    journey = Journey("p1", (Touch("click", 8 * DAY, campaign="old"), Touch("click", 1 * DAY, campaign="new")))
    _run(warehouse, journey, models=("time_decay",))
    old, new = (row[5] for row in credits(warehouse, "time_decay"))
    assert new == pytest.approx(2 * old)
    assert old + new == pytest.approx(1.0)


def test_open_weight_and_machine_opens(warehouse: Warehouse) -> None:
    journey = Journey(
        "p1",
        (
            Touch("open", 300, campaign="o", verdict="human"),
            Touch("open", 250, campaign="mpp", verdict="apple_mpp"),
            Touch("click", 200, campaign="scan", verdict="scanner"),
            Touch("click", 100, campaign="k"),
        ),
    )
    _run(warehouse, journey, models=("linear",), config=AttributionConfig(open_weight=0.5))
    assert [(r[4], round(float(r[5]), 6)) for r in credits(warehouse, "linear")] == [("o", 0.333333), ("k", 0.666667)]
    # 100 shared 1/3 and 2/3: the larger share takes the rounding remainder
    assert [r[6] for r in credits(warehouse, "linear")] == [Decimal("33.333333"), Decimal("66.666667")]


def test_opens_left_out_with_weight_zero(warehouse: Warehouse) -> None:
    journey = Journey("p1", (Touch("open", 300, campaign="o"), Touch("click", 100, campaign="k")))
    _run(warehouse, journey, models=("first_touch",), config=AttributionConfig(open_weight=0))
    assert [(r[4], r[5]) for r in credits(warehouse, "first_touch")] == [("k", 1.0)]


def test_lookback_windows_per_touch_type(warehouse: Warehouse) -> None:
    journey = Journey(
        "p1",
        (
            Touch("click", 31 * DAY, campaign="too-old-click"),
            Touch("open", 4 * DAY, campaign="too-old-open"),
            Touch("click", 29 * DAY, campaign="click"),
            Touch("open", 2 * DAY, campaign="open"),
        ),
    )
    _run(warehouse, journey, models=("linear",))
    assert [r[4] for r in credits(warehouse, "linear")] == ["click", "open"]
    config = AttributionConfig(click_lookback_days=10, open_lookback_days=1)
    run_attribution(warehouse, config, models=("linear",), since=T0, until=UNTIL)
    assert [r[3] for r in credits(warehouse, "linear")] == ["(none)"]


def test_duplicate_purchases_count_once_and_untouched_ones_go_to_none(warehouse: Warehouse) -> None:
    journey = Journey("p1", (Touch("click", 60),), revenue=Decimal("50"))
    rows = journey_events(journey)
    purchase = rows[-1]
    copy = EventRow(
        event_id="copy-of-buy",
        event_time=purchase.event_time + timedelta(minutes=5),
        received_at=purchase.received_at,
        event_name="purchase",
        source="mp",
        value=purchase.value,
        currency="EUR",
        transaction_id=purchase.transaction_id,
    )
    lonely = EventRow(
        event_id="lonely", event_time=T0, received_at=T0, event_name="purchase", source="server",
        value=Decimal("7.5"), currency="EUR", transaction_id="tx-lonely", params={"email_pseudonym": "nobody"},
    )  # fmt: skip
    insert(warehouse, [*rows, copy, lonely, purchase])
    run_attribution(warehouse, AttributionConfig(), models=("last_touch",), until=UNTIL)
    rows_out = credits(warehouse, "last_touch")
    assert [(r[1], r[3], r[6]) for r in rows_out] == [
        ("tx:tx-lonely", "(none)", Decimal("7.5")),
        ("tx:tx-p1", "email", Decimal("50")),
    ]


def test_person_key_follows_the_click_client_id(warehouse: Warehouse) -> None:
    at = T0 + timedelta(days=3)
    insert(
        warehouse,
        [
            EventRow(
                event_id="c", event_time=at, received_at=at, event_name="email_click", source="click",
                campaign_id="promo", recipient="sub-42", ga_client_id="GA1.1.9", verdict="human",
            ),
            EventRow(
                event_id="v", event_time=at + timedelta(minutes=1), received_at=at, event_name="session_start",
                source="mp", ga_client_id="GA1.1.9", params={"source": "google", "medium": "cpc"},
            ),
            EventRow(
                event_id="b", event_time=at + timedelta(minutes=9), received_at=at, event_name="purchase",
                source="server", ga_client_id="GA1.1.9", value=Decimal(20), currency="EUR", transaction_id="T9",
            ),
        ],
    )  # fmt: skip
    run_attribution(warehouse, AttributionConfig(), models=("linear",), until=UNTIL)
    assert {r[3]: r[6] for r in credits(warehouse, "linear")} == {"email": Decimal(10), "google / cpc": Decimal(10)}
    events = warehouse.rows("SELECT touch_event_id FROM attribution_credits ORDER BY touch_index")
    assert events == [("c",), ("v",)]
    (path,) = warehouse.rows("SELECT person_key, path FROM attribution_paths WHERE converted = 1")
    assert path == ("sub-42", "email > google / cpc")
