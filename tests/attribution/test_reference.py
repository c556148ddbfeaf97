"""Against an outside reference: the ``channelattribution`` package (GPL-3, a test-only dependency).

The same journeys go into the warehouse (as clicks, visits and purchases) and into channelattribution as path
strings. First touch, last touch and linear per channel must equal its ``heuristic_models`` (to float rounding).
Its ``markov_model`` estimates removal effects by simulating the chain (fixed seed 0, 1,000,000 simulated paths,
max_step 100 so that long cycles are not cut short); ours are exact, so they must agree within its simulation
error: one standard error is about 0.002 here (the largest difference seen was 0.0016), and the test allows 0.006.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import ChannelAttribution as reference
import pandas as pd
import pytest

from attribution import AttributionConfig, run_attribution
from warehouse import Warehouse

from .data import T0, UNTIL, Journey, Touch, insert, journey_events

CHANNELS = ("email", "google / cpc", "facebook / paid", "direct")


def _journeys() -> list[tuple[list[str], Journey]]:
    rng = random.Random(2026)
    out = []
    for i in range(150):
        chans = [rng.choices(CHANNELS, weights=(3, 3, 2, 2))[0] for _ in range(rng.randint(1, 5))]
        # email makes people buy more often, facebook less: the removal effects differ clearly.
        odds = 0.35 + 0.25 * ("email" in chans) - 0.15 * ("facebook / paid" in chans)
        converted = rng.random() < odds
        touches = tuple(
            Touch("click", 600 - 60 * k) if ch == "email" else Touch("visit", 600 - 60 * k, channel=ch)
            for k, ch in enumerate(chans)
        )
        ends = T0 + timedelta(days=5) if converted else UNTIL - timedelta(days=1)
        revenue = Decimal(rng.randint(100, 50000)) / 100
        out.append((chans, Journey(f"p{i}", touches, converts_at=ends, revenue=revenue, converted=converted)))
    return out


@pytest.fixture(scope="module")
def journeys() -> list[tuple[list[str], Journey]]:
    return _journeys()


def _frame(journeys: list[tuple[list[str], Journey]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": [" > ".join(chans) for chans, _ in journeys],
            "conv": [int(j.converted) for _, j in journeys],
            "null": [int(not j.converted) for _, j in journeys],
            "value": [float(j.revenue) if j.converted else 0.0 for _, j in journeys],
        }
    )


def _load(
    wh: Warehouse, journeys: list[tuple[list[str], Journey]], models: tuple[str, ...]
) -> dict[str, dict[str, float]]:
    for _, journey in journeys:
        insert(wh, journey_events(journey))
    summary = run_attribution(wh, AttributionConfig(), models=models, until=UNTIL)
    return summary.values


def test_first_last_linear_equal_heuristic_models(
    warehouse: Warehouse, journeys: list[tuple[list[str], Journey]]
) -> None:
    _load(warehouse, journeys, ("first_touch", "last_touch", "linear"))
    frame = _frame(journeys)
    theirs = reference.heuristic_models(frame[frame.conv > 0], "path", "conv", var_value="value", flg_pro=False)
    theirs = theirs.set_index("channel_name")
    ours = warehouse.rows(
        "SELECT model, channel, sum(credit), sum(credit * toFloat64(j.revenue)), sum(toFloat64(c.revenue)), count() "
        "FROM attribution_credits AS c JOIN (SELECT DISTINCT journey_id, revenue FROM attribution_touches) AS j "
        "ON c.conversion_id = j.journey_id GROUP BY ALL"
    )
    assert {row[1] for row in ours} == set(theirs.index)
    names = {"first_touch": "first_touch", "last_touch": "last_touch", "linear": "linear_touch"}
    for model, channel, conversions, value, stored, rows in ours:
        assert conversions == pytest.approx(theirs.loc[channel, f"{names[model]}_conversions"], abs=1e-9)
        assert value == pytest.approx(theirs.loc[channel, f"{names[model]}_value"], abs=1e-9)
        # the stored revenue is rounded to 6 decimals per row (each conversion's rows still add up exactly)
        assert stored == pytest.approx(value, abs=rows * 1e-6)


@pytest.mark.parametrize("order", [1, 2])
def test_markov_removal_effects_within_simulation_error(
    warehouse: Warehouse, journeys: list[tuple[list[str], Journey]], order: int
) -> None:
    learned = _load(warehouse, journeys, (f"markov_{order}",))[f"markov_{order}"]
    simulated = reference.markov_model(
        _frame(journeys),
        "path",
        "conv",
        var_null="null",
        order=order,
        nsim_start=1e6,
        max_step=100,
        out_more=True,
        seed=0,
        verbose=False,
        flg_pro=False,
    )["removal_effects"].set_index("channel_name")["removal_effect"]
    assert set(learned) == set(simulated.index)
    for channel, effect in learned.items():
        assert effect == pytest.approx(simulated[channel], abs=0.006), channel
    # not a vacuous comparison: the channels' effects are clearly apart
    assert max(learned.values()) - min(learned.values()) > 0.1
