"""Invariants of every model, as property tests on the real engine.

Each example builds journeys, stores them in fresh databases and runs every model:
- each conversion's credits sum to 1 and its credited revenue to its revenue, exactly;
- a one-touch journey gives all credit to that touch in every model;
- the order in which rows were stored never changes any credit (touches at equal times included);
- linear and Shapley credit per channel does not depend on the order of the touches.
"""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attribution import MODELS, AttributionConfig, run_attribution
from warehouse import Warehouse

from .data import UNTIL, Journey, Touch, fresh_warehouse, insert, journey_events

CHANNELS = ("email", "google / cpc", "facebook / paid", "direct")

touches = st.builds(
    lambda kind, minutes, channel, campaign: Touch(kind, minutes, channel if kind == "visit" else "email", campaign),
    st.sampled_from(["click", "open", "visit"]),
    st.sampled_from([0, 30, 30, 60, 600, 1440]),  # repeats make touches at equal times
    st.sampled_from(CHANNELS[1:]),
    st.sampled_from(["spring", "summer"]),
)
journeys = st.lists(
    st.tuples(
        st.lists(touches, min_size=0, max_size=6),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999"), places=2),
    ),
    min_size=1,
    max_size=6,
).map(lambda items: [Journey(f"p{i}", tuple(t), revenue=r) for i, (t, r) in enumerate(items)])

CONFIG = AttributionConfig(open_weight=0.5)


def _load(wh: Warehouse, data: list[Journey], *, reverse: bool = False, models: tuple[str, ...] = MODELS) -> None:
    rows = [row for journey in data for row in journey_events(journey)]
    insert(wh, rows[::-1] if reverse else rows)
    run_attribution(wh, CONFIG, models=models, until=UNTIL)


def _credit_rows(wh: Warehouse) -> list[tuple[object, ...]]:
    return wh.rows(
        "SELECT model, conversion_id, touch_index, channel, campaign_id, touch_kind, round(credit, 9), revenue "
        "FROM attribution_credits ORDER BY ALL"
    )


def _per_channel(wh: Warehouse, model: str) -> dict[tuple[str, str], float]:
    rows = wh.rows(
        "SELECT conversion_id, channel, round(sum(credit), 9) FROM attribution_credits "
        "WHERE model = {model:String} GROUP BY ALL",
        {"model": model},
    )
    return {(c, ch): v for c, ch, v in rows}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=journeys, seed=st.integers(0, 2**16))
def test_invariants_of_every_model(chdb_dir: Path, data: list[Journey], seed: int) -> None:
    with fresh_warehouse(chdb_dir) as wh:
        _load(wh, data)
        sums = wh.rows(
            "SELECT model, conversion_id, sum(credit), sum(revenue), any(t.revenue), count() "
            "FROM attribution_credits AS c "
            "JOIN (SELECT journey_id, any(revenue) AS revenue, any(touch_count) AS n FROM attribution_touches "
            "WHERE converted = 1 GROUP BY journey_id) AS t ON c.conversion_id = t.journey_id "
            "GROUP BY model, conversion_id"
        )
        assert len(sums) == len(MODELS) * len(data)
        for model, conversion, share, credited, revenue, _ in sums:
            assert abs(share - 1.0) < 1e-9, (model, conversion)
            assert credited == revenue, (model, conversion)
        single = wh.rows(
            "SELECT c.model, c.credit FROM attribution_credits AS c JOIN attribution_touches AS t "
            "ON c.conversion_id = t.journey_id AND c.touch_index = t.touch_index WHERE t.touch_count = 1"
        )
        assert all(credit == 1.0 for _, credit in single)
        # Every generated touch is a person's and inside its window (opens: 3 days), so each one counts;
        # a journey without touches has its one "(none)" touch.
        expected_single = sum(1 for j in data if len(j.touches) <= 1) * len(MODELS)
        assert len(single) == expected_single
        stored = _credit_rows(wh)
        before = {m: _per_channel(wh, m) for m in ("linear", "shapley")}

    with fresh_warehouse(chdb_dir) as wh:
        _load(wh, data, reverse=True)
        assert _credit_rows(wh) == stored

    # The same touches in another order (times shuffled within each journey).
    rng = random.Random(seed)
    shuffled = []
    for journey in data:
        times = [t.minutes_before for t in journey.touches]
        rng.shuffle(times)
        shuffled.append(
            replace(
                journey,
                touches=tuple(replace(t, minutes_before=m) for t, m in zip(journey.touches, times, strict=True)),
            )
        )
    with fresh_warehouse(chdb_dir) as wh:
        _load(wh, shuffled, models=("linear", "shapley"))
        after = {m: _per_channel(wh, m) for m in ("linear", "shapley")}
    assert after == before
