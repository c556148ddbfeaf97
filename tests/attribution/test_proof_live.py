"""The proof: journeys made through a live gateway's public API, every model recomputed independently.

``journey_api.generate`` makes the journeys of 330 people over seven channels (clicks and opens through ``/c/``
and ``/o/``; session starts, page views with and without a source, and purchases through ``/v1/events``; clicks
joined to the site's client id by ``POST /v1/identify``, before and after the purchase; history 4 to 29 days back
through ``/v1/events``, ``ga4gw import events`` and ``POST /v1/events/import``). ``POST /v1/attribution/runs``
attributes them on the running gateway. Then:

- every journey in ``attribution_paths`` is the one the generator made: each purchase's path of channels and of
  GA4 channel groups (by transaction id), each person's non-converting touches, and one person key per person, a
  different one for each (so an identification that does not join, or joins too much, fails here);
- from the rows of ``attribution_touches`` alone, every model of ``attribution.MODELS`` recomputed in plain Python
  (``independent.py``) gives every touch of every conversion the stored credit within 1e-9, and the learned
  channel values within 1e-9; each conversion's credited revenue adds up to its revenue exactly;
- Markov removal effects agree with channelattribution's simulation (1,000,000 paths, seed 0) within its noise.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import ChannelAttribution as reference
import httpx
import pandas as pd
import pytest

from attribution import MODELS
from tests.conftest import start_gateway

from . import independent as ind
from .journey_api import CHANNELS, DEFAULT_CHANNEL, KINDS, Expected, generate, select

pytestmark = pytest.mark.live

HALF_LIFE_DAYS = 7.0  # the default of GA4GW_ATTRIBUTION_HALF_LIFE_DAYS, which the run uses


@dataclass
class Proof:
    """What the generator made and what the run wrote, read once through the running gateway."""

    expected: Expected
    status: dict[str, Any]
    paths: list[dict[str, Any]]
    touches: list[ind.Touch]
    credits: list[dict[str, Any]]
    values: list[dict[str, Any]]
    imported: int


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


def _touches(rows: list[dict[str, Any]]) -> list[ind.Touch]:
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


def _run(url: str, token: str) -> dict[str, Any]:
    """``POST /v1/attribution/runs`` and its status URL polled until the run is over."""
    auth = {"authorization": f"Bearer {token}"}
    started = httpx.post(url + "/v1/attribution/runs", headers=auth)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    while (status := httpx.get(url + started.json()["status_url"], headers=auth).json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["status"] == "done", status
    return dict(status)


@pytest.fixture(scope="module")
def proof(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proof]:
    workdir = tmp_path_factory.mktemp("proof")
    gw = start_gateway(workdir / "data", GA4GW_PIPELINE_MAX_DELAY="0.2")
    try:
        expected = generate(gw, 15, workdir)
        status = _run(gw.url, gw.token("attribution:run"))
        touches = select(
            gw,
            "SELECT journey_id, converted, toString(conversion_time) AS ct, toString(revenue) AS rev, touch_index, "
            "toString(touch_time) AS tt, touch_kind, channel, weight FROM attribution_touches",
        )
        yield Proof(
            expected,
            status,
            select(
                gw,
                "SELECT journey_id, converted, person_key, transaction_id, toString(revenue) AS revenue, "
                "toString(conversion_time) AS ct, path, default_path, event_ids FROM attribution_paths",
            ),
            _touches(touches),
            select(
                gw, "SELECT model, conversion_id, touch_index, credit, toString(revenue) AS r FROM attribution_credits"
            ),
            select(gw, "SELECT model, channel, value FROM attribution_channel_values"),
            int(select(gw, "SELECT count() AS n FROM events WHERE source = 'import'")[0]["n"]),
        )
    finally:
        gw.stop()


def test_the_generated_journeys_are_the_warehouses(proof: Proof) -> None:
    expected, paths = proof.expected, proof.paths
    assert sum(KINDS.values()) >= 300
    assert len(paths) >= 300
    converted = {p["transaction_id"]: p for p in paths if p["converted"]}
    # Who the warehouse took for one person: a journey holds only its person's visits (each stored visit's event
    # id is known to be someone's), and every generated person has one person key, a different one each.
    person_of: dict[str, set[str]] = defaultdict(set)
    for p in paths:
        owners = {expected.owner[e] for e in p["event_ids"] if e in expected.owner}
        if p["converted"]:
            owners.add(expected.purchases[p["transaction_id"]].person)
        assert len(owners) == 1, (p["path"], owners)
        person_of[p["person_key"]] |= owners
    assert all(len(people) == 1 for people in person_of.values()), "two people were taken for one"
    keys = Counter(next(iter(people)) for people in person_of.values())
    assert keys.most_common(1)[0][1] == 1, "one person was split in two"
    # The paths, by transaction and by person.
    assert {t: p["path"] for t, p in converted.items()} == {
        t: " > ".join(j.path) for t, j in expected.purchases.items()
    }
    assert {t: p["default_path"] for t, p in converted.items()} == {
        t: " > ".join(DEFAULT_CHANNEL[c] for c in j.path) for t, j in expected.purchases.items()
    }
    assert {t: Decimal(p["revenue"]) for t, p in converted.items()} == {
        t: Decimal(v) for t, v in expected.revenue.items()
    }
    lost = {next(iter(person_of[p["person_key"]])): p["path"] for p in paths if not p["converted"]}
    assert lost == {person: " > ".join(path) for person, path in expected.lost.items()}
    # What the set covers.
    assert {c for p in paths for c in p["path"].split(" > ")} == {*CHANNELS, "(none)"}
    old = datetime.now(UTC) - timedelta(days=4)
    assert sum(_time(p["ct"]) < old for p in converted.values()) >= 30  # past-dated purchases, beyond GA4's 72 h
    assert proof.imported == expected.imported > 0
    last = [p["path"].split(" > ") for p in converted.values()]
    assert sum(p[-1] == "direct" and any(c != "direct" for c in p) for p in last) >= 20  # last non-direct differs
    assert sum(set(p) == {"direct"} for p in last) >= 10  # only direct: last non-direct falls back to it
    assert proof.status["conversions"] == len(converted)


def test_every_model_equals_an_independent_computation(proof: Proof) -> None:
    found = ind.journeys(proof.touches)
    converted = [j for j in found.values() if j[0].converted]
    effects = {order: ind.removal_effects(list(found.values()), order) for order in (1, 2, 3)}
    learned: dict[str, dict[str, float]] = {}
    for row in proof.values:
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
    for row in proof.credits:
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
    worst = {model: max(abs(stored[k] - computed[k]) for k in stored if k[0] == model) for model in MODELS}
    assert max(worst.values()) <= 1e-9, worst
    assert {m for m, _, _ in stored} == set(MODELS)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_agrees_with_channelattribution(proof: Proof, order: int) -> None:
    paths: Counter[tuple[str, bool]] = Counter()
    for journey in ind.journeys(proof.touches).values():
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
    learned = {r["channel"]: float(r["value"]) for r in proof.values if r["model"] == f"markov_{order}"}
    assert set(learned) == set(simulated.index)
    for channel, effect in learned.items():
        assert effect == pytest.approx(simulated[channel], abs=0.006), channel
