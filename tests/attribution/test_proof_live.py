"""The proof: journeys made through a live gateway's public API, every model recomputed independently.

``journey_api.generate`` makes 320 journeys over six channels (clicks and opens through ``/c/`` and ``/o/``, page
views with their traffic source and purchases through ``/v1/events``, some dated up to two days back). With the
gateway stopped, ``ga4gw attribution run`` attributes them. Then, from the rows of ``attribution_touches`` alone:

- every journey's path equals the one the generator made (by transaction id; non-converting ones as a multiset);
- every model of ``attribution.MODELS`` recomputed in plain Python (``independent.py``) gives every touch of every
  conversion the stored credit within 1e-9, and the learned channel values within 1e-9;
- each conversion's credited revenue adds up to its revenue exactly;
- Markov removal effects agree with channelattribution's simulation (1,000,000 paths, seed 0) within its noise.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import ChannelAttribution as reference
import pandas as pd
import pytest

from attribution import MODELS
from tests.conftest import clean_env, run_cli, start_gateway

from . import independent as ind
from .journey_api import CHANNELS, KINDS, Expected, generate

pytestmark = pytest.mark.live

HALF_LIFE_DAYS = 7.0  # the default of GA4GW_ATTRIBUTION_HALF_LIFE_DAYS, which the run uses


def _select(env: dict[str, str], query: str) -> list[dict[str, Any]]:
    result = run_cli("sql", query + " FORMAT JSONEachRow", env=env)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


def _touches(env: dict[str, str]) -> list[ind.Touch]:
    rows = _select(
        env,
        "SELECT journey_id, converted, toString(conversion_time) AS ct, toString(revenue) AS rev, touch_index, "
        "toString(touch_time) AS tt, touch_kind, channel, weight FROM attribution_touches",
    )
    return [
        ind.Touch(
            r["journey_id"],
            bool(r["converted"]),
            _time(r["ct"]),
            Decimal(r["rev"]),
            int(r["touch_index"]),
            _time(r["tt"]),
            r["touch_kind"],
            r["channel"],
            float(r["weight"]),
        )
        for r in rows
    ]


@pytest.fixture(scope="module")
def attributed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Expected]:
    data = tmp_path_factory.mktemp("proof") / "data"
    gw = start_gateway(data, GA4GW_PIPELINE_MAX_DELAY="0.2")
    try:
        expected = generate(gw, seed=15)
        # the events are in the warehouse once the pipeline has moved them all
        deadline = time.monotonic() + 60
        while int(_select(gw.env, "SELECT count() AS n FROM events")[0]["n"]) < expected.events:
            assert time.monotonic() < deadline, "the events did not all reach the warehouse"
            time.sleep(0.2)
    finally:
        gw.stop()
    env = clean_env(GA4GW_DATA_DIR=str(data))
    result = run_cli("attribution", "run", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    return env, expected


def test_the_generated_journeys_are_the_warehouses(attributed: tuple[dict[str, str], Expected]) -> None:
    env, expected = attributed
    assert sum(KINDS.values()) >= 300
    found = ind.journeys(_touches(env))
    converted = {j[0].journey_id.removeprefix("tx:"): [t.channel for t in j] for j in found.values() if j[0].converted}
    assert converted == expected.purchases
    lost = Counter(tuple(t.channel for t in j) for j in found.values() if not j[0].converted)
    assert lost == Counter(tuple(p) for p in expected.lost)
    assert {t.channel for j in found.values() for t in j} == {*CHANNELS, "(none)"}
    assert len(found) >= 300
    revenue = {j[0].journey_id.removeprefix("tx:"): j[0].revenue for j in found.values() if j[0].converted}
    assert revenue == {k: Decimal(v) for k, v in expected.revenue.items()}


def test_every_model_equals_an_independent_computation(attributed: tuple[dict[str, str], Expected]) -> None:
    env, _ = attributed
    found = ind.journeys(_touches(env))
    converted = [j for j in found.values() if j[0].converted]
    effects = {order: ind.removal_effects(list(found.values()), order) for order in (1, 2, 3)}
    learned: dict[str, dict[str, float]] = {}
    for row in _select(env, "SELECT model, channel, value FROM attribution_channel_values"):
        learned.setdefault(row["model"], {})[row["channel"]] = float(row["value"])
    for order, values in effects.items():
        assert learned[f"markov_{order}"].keys() == values.keys()
        for channel, value in values.items():
            assert abs(learned[f"markov_{order}"][channel] - value) <= 1e-9, (order, channel)
    shapley = ind.shapley_values([j for j in converted if j[0].kind != "none"])
    assert learned["shapley"] == pytest.approx(shapley, abs=1e-9)
    assert sum(shapley.values()) == pytest.approx(sum(1 for j in converted if j[0].kind != "none"), abs=1e-9)

    stored: dict[tuple[str, str, int], float] = {}
    revenue: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in _select(env, "SELECT model, conversion_id, touch_index, credit, toString(revenue) AS r "
                            "FROM attribution_credits"):  # fmt: skip
        stored[(row["model"], row["conversion_id"], int(row["touch_index"]))] = float(row["credit"])
        revenue[(row["model"], row["conversion_id"])] += Decimal(row["r"])
    computed: dict[tuple[str, str, int], float] = {}
    for model in MODELS:
        for journey in converted:
            if model == "shapley":
                shares = ind.shapley_credits(journey)
            elif model.startswith("markov_"):
                shares = ind.by_channel_values(journey, effects[int(model[-1])])
            else:
                shares = ind.rule_credits(model, journey, HALF_LIFE_DAYS)
            for touch, share in zip(journey, shares, strict=True):
                if share > 0:  # rows with no credit are not written
                    computed[(model, touch.journey_id, touch.index)] = share
            assert revenue[(model, journey[0].journey_id)] == journey[0].revenue, (model, journey[0].journey_id)
    assert stored.keys() == computed.keys()
    worst = max(abs(stored[k] - computed[k]) for k in stored)
    assert worst <= 1e-9
    assert {m for m, _, _ in stored} == set(MODELS)


@pytest.mark.parametrize("order", [1, 2])
def test_markov_agrees_with_channelattribution(attributed: tuple[dict[str, str], Expected], order: int) -> None:
    env, _ = attributed
    paths: Counter[tuple[str, bool]] = Counter()
    for journey in ind.journeys(_touches(env)).values():
        if journey[0].kind != "none":
            paths[(" > ".join(t.channel for t in journey), journey[0].converted)] += 1
    frame = pd.DataFrame(
        {
            "path": [p for p, _ in paths],
            "conv": [n if c else 0 for (_, c), n in paths.items()],
            "null": [0 if c else n for (_, c), n in paths.items()],
        }
    )
    result = reference.markov_model(
        frame,
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
    )
    simulated = result["removal_effects"].set_index("channel_name")["removal_effect"]
    rows = _select(env, f"SELECT channel, value FROM attribution_channel_values WHERE model = 'markov_{order}'")
    learned = {r["channel"]: float(r["value"]) for r in rows}
    assert set(learned) == set(simulated.index)
    for channel, effect in learned.items():
        assert effect == pytest.approx(simulated[channel], abs=0.006), channel
