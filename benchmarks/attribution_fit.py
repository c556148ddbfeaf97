"""Figures of issue 15 (defects 3 and 4): what Markov and Shapley learn in a full and in an incremental run.

.venv/bin/python -m benchmarks.attribution_fit [--people 400] [--seed 15]

Generates 60 days of journeys over email, google / cpc, facebook / paid and direct (buyers, repeat buyers,
buyers who come back without buying, people who never buy) straight into an embedded warehouse, then runs
attribution on the same data with the same end: once over everything, then from two days before the end (a
nightly run after one the day before, and the same run alone in its database). Prints, for each: the converting
and non-converting journeys in the fit window, Shapley's value of every channel, Markov order 1's removal
effects; and, for the full run, each channel's conversions credited by Shapley and by linear. Only public
functions and tables are used, so the same script measures older code.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from attribution import AttributionConfig, run_attribution
from attribution.run import EPOCH
from tests.attribution.data import T0, Journey, Touch, insert, journey_events
from warehouse import Warehouse, migrate

UNTIL = T0 + timedelta(days=60)
CHANNELS = ("email", "google / cpc", "facebook / paid", "direct")


def _touch(rng: random.Random, minutes_before: int) -> Touch:
    channel = rng.choices(CHANNELS, weights=(3, 4, 2, 3))[0]
    return Touch("click", minutes_before) if channel == "email" else Touch("visit", minutes_before, channel=channel)


def journeys(people: int, seed: int) -> list[Journey]:
    rng = random.Random(seed)
    out = []
    for i in range(people):
        at = T0 + timedelta(minutes=rng.randrange(2, 59 * 24 * 60))
        touches = tuple(_touch(rng, rng.randrange(0, 20 * 24 * 60)) for _ in range(rng.randint(1, 4)))
        converted = rng.random() < 0.6
        out.append(Journey(f"p{i}", touches, converts_at=at, converted=converted))
        later = at + timedelta(days=rng.randint(1, 25))
        if converted and rng.random() < 0.5 and later < UNTIL:
            again = tuple(_touch(rng, rng.randrange(0, 3 * 24 * 60)) for _ in range(rng.randint(1, 3)))
            out.append(Journey(f"p{i}", again, converts_at=later, converted=rng.random() < 0.5))
    return out


def _figures(wh: Warehouse, label: str, since: datetime | None) -> None:
    config = AttributionConfig()
    summary = run_attribution(wh, config, since=since, until=UNTIL)
    fit_from = UNTIL - timedelta(days=config.fit_days)
    conv, lost = wh.rows(
        "SELECT uniqExactIf(journey_id, converted = 1), uniqExactIf(journey_id, converted = 0) "
        "FROM attribution_touches WHERE touch_kind != 'none' "
        "AND conversion_time >= {f:DateTime64(3, 'UTC')} AND conversion_time <= {u:DateTime64(3, 'UTC')}",
        {"f": min(fit_from, summary.since), "u": UNTIL},
    )[0]
    print(f"{label}: since {summary.since:%Y-%m-%d %H:%M}, fit on {conv} converting + {lost} non-converting journeys")
    for model in ("shapley", "markov_1"):
        values = ", ".join(f"{ch} {v:.4f}" for ch, v in sorted(summary.values[model].items()))
        print(f"  {model} values: {values}; sum {sum(summary.values[model].values()):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    data = journeys(args.people, args.seed)
    rows = [row for n, j in enumerate(data) for row in journey_events(j, prefix=f"j{n}-")]
    print(f"{len(data)} journeys, {sum(j.converted for j in data)} conversions, {len(rows)} events")
    path = Path(tempfile.mkdtemp(prefix="attribution-fit-"))
    try:
        cases = (
            ("full run", False, EPOCH),
            ("nightly run after yesterday's", True, None),
            ("run from two days back, first in its database", False, UNTIL - timedelta(days=2)),
        )
        for label, yesterday, since in cases:
            wh = Warehouse.connect(f"chdb://{path}?database=f_{uuid.uuid4().hex[:8]}")
            migrate(wh)
            insert(wh, rows)
            if yesterday:
                run_attribution(wh, AttributionConfig(), until=UNTIL - timedelta(days=1))
            _figures(wh, label, since)
            if since == EPOCH:
                credited = wh.rows(
                    "SELECT channel, model, round(sum(credit), 1) FROM attribution_credits "
                    "WHERE model IN ('shapley', 'linear') GROUP BY ALL ORDER BY ALL"
                )
                print("  conversions credited (full run): " + ", ".join(f"{c} {m} {v}" for c, m, v in credited))
            wh.close()
    finally:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
