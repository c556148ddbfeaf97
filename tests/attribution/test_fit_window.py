"""The fit window: Markov and Shapley learn from the same journeys whatever the run's start.

An incremental run (``since`` in the middle of the data) must learn the same channel values as a full run with the
same data and end time, and give the conversions they both credit the same credits: the fit depends on the fit
window ``[until - fit_days, until)`` only. The data has what made them differ: people who converted before the
window and touched again later, repeat buyers, people who never convert, and touches on both sides of ``since``.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from attribution import DATA_DRIVEN_MODELS, MODELS, AttributionConfig, run_attribution
from warehouse import Warehouse

from .data import T0, Journey, Touch, fresh_warehouse, insert, journey_events

CHANNELS = ("email", "google / cpc", "facebook / paid", "direct")
UNTIL = T0 + timedelta(days=60)
CONFIG = AttributionConfig(fit_days=30)


def _touch(rng: random.Random, minutes_before: int) -> Touch:
    channel = rng.choice(CHANNELS)
    return Touch("click", minutes_before) if channel == "email" else Touch("visit", minutes_before, channel=channel)


def _journeys(seed: int) -> list[Journey]:
    """Some 240 journeys over 60 days: converting, never converting, converting twice, converting then back."""
    rng = random.Random(seed)
    out = []
    for i in range(160):
        person = f"p{i}"
        at = T0 + timedelta(minutes=rng.randrange(2, 59 * 24 * 60))
        touches = tuple(_touch(rng, rng.randrange(0, 20 * 24 * 60)) for _ in range(rng.randint(1, 4)))
        converted = rng.random() < 0.55
        out.append(Journey(person, touches, converts_at=at, converted=converted))
        if converted and rng.random() < 0.5:
            # comes back later: a second purchase, or touches without one (a non-converting journey to come)
            later = at + timedelta(days=rng.randint(1, 25))
            again = tuple(_touch(rng, rng.randrange(0, 3 * 24 * 60)) for _ in range(rng.randint(1, 3)))
            if later < UNTIL:
                out.append(Journey(person, again, converts_at=later, converted=rng.random() < 0.5))
    return out


def _load(wh: Warehouse, journeys: list[Journey]) -> None:
    rows = [row for n, journey in enumerate(journeys) for row in journey_events(journey, prefix=f"j{n}-")]
    insert(wh, rows)


def _credits(wh: Warehouse, since: datetime) -> dict[tuple[str, str, int], float]:
    rows = wh.rows(
        "SELECT model, conversion_id, touch_index, credit FROM attribution_credits "
        "WHERE conversion_time >= {since:DateTime64(3, 'UTC')}",
        {"since": since},
    )
    return {(m, c, i): v for m, c, i, v in rows}


def _close(a: dict[Any, float], b: dict[Any, float]) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-9 for k in a)


@pytest.mark.parametrize("since_days", [20, 45], ids=["since-before-fit-window", "since-inside-fit-window"])
def test_an_incremental_run_learns_and_credits_like_a_full_run(chdb_dir: Path, since_days: int) -> None:
    journeys = _journeys(15)
    since = T0 + timedelta(days=since_days)
    with fresh_warehouse(chdb_dir) as wh:
        _load(wh, journeys)
        full = run_attribution(wh, CONFIG, until=UNTIL)
        full_credits = _credits(wh, since)
    with fresh_warehouse(chdb_dir) as wh:
        _load(wh, journeys)
        incremental = run_attribution(wh, CONFIG, since=since, until=UNTIL)
        incremental_credits = _credits(wh, since)
        assert incremental.since == since
        assert incremental.conversions < full.conversions
    assert set(full.values) == set(DATA_DRIVEN_MODELS)
    for model in DATA_DRIVEN_MODELS:
        assert _close(incremental.values[model], full.values[model]), model
    assert {m for m, _, _ in full_credits} == set(MODELS)
    assert _close(incremental_credits, full_credits)


def test_a_nightly_run_after_a_full_run_learns_the_same(warehouse: Warehouse) -> None:
    """The ordinary case: yesterday's run recorded, tonight's starts where it ended (less the grace day)."""
    journeys = _journeys(16)
    _load(warehouse, journeys)
    run_attribution(warehouse, CONFIG, until=UNTIL - timedelta(days=1))
    nightly = run_attribution(warehouse, CONFIG, until=UNTIL)
    assert nightly.since == UNTIL - timedelta(days=2)
    nightly_credits = _credits(warehouse, nightly.since)
    full = run_attribution(warehouse, CONFIG, since=T0 - timedelta(days=30), until=UNTIL)
    for model in DATA_DRIVEN_MODELS:
        assert _close(nightly.values[model], full.values[model]), model
    assert _close(nightly_credits, _credits(warehouse, nightly.since))


def test_people_who_converted_before_since_are_treated_alike(chdb_dir: Path) -> None:
    """A buyer before ``since`` who comes back without buying is one non-converting journey in both runs (the
    touches after the purchase); a buyer who never comes back is none. Before, a full run had no non-converting
    journey here and an incremental run one per person touched since ``since``, the purchase's own touches too."""
    back = Journey("back", (Touch("visit", 60, channel="google / cpc"),), converts_at=T0 + timedelta(days=40))
    returns = Journey(
        "back", (Touch("visit", 60, channel="direct"),), converts_at=T0 + timedelta(days=52), converted=False
    )
    gone = Journey("gone", (Touch("click", 60 * 24 * 3),), converts_at=T0 + timedelta(days=50, hours=12))
    seen = []
    for since in (None, T0 + timedelta(days=50)):
        with fresh_warehouse(chdb_dir) as wh:
            _load(wh, [back, returns, gone])
            summary = run_attribution(wh, CONFIG, models=("markov_1",), since=since, until=UNTIL)
            paths = wh.rows(
                "SELECT person_key, groupArray(channel) FROM attribution_touches WHERE converted = 0 GROUP BY ALL"
            )
            seen.append((paths, summary.values["markov_1"]))
    assert seen[0] == seen[1]
    assert seen[0][0] == [("back", ["direct"])]
