"""Runs: incremental windows, replacing credits instead of adding to them, and what the run records."""

from __future__ import annotations

from datetime import timedelta

import pytest

from attribution import AttributionConfig, UnknownModel, last_run_end, run_attribution
from attribution.run import EPOCH, GRACE
from warehouse import Warehouse

from .data import T0, Journey, Touch, insert, journey_events


def _conversions(wh: Warehouse) -> list[tuple[object, ...]]:
    return wh.rows(
        "SELECT conversion_id, round(sum(credit), 9) FROM attribution_credits WHERE model = 'linear' "
        "GROUP BY ALL ORDER BY ALL"
    )


def test_runs_are_incremental_and_replace_credits(warehouse: Warehouse) -> None:
    config = AttributionConfig()
    insert(warehouse, journey_events(Journey("a", (Touch("click", 60),), converts_at=T0 + timedelta(days=10))))
    assert last_run_end(warehouse) is None
    first = run_attribution(warehouse, config, until=T0 + timedelta(days=20))
    assert (first.since, first.conversions) == (EPOCH, 1)
    assert last_run_end(warehouse) == T0 + timedelta(days=20)

    insert(warehouse, journey_events(Journey("b", (Touch("click", 60),), converts_at=T0 + timedelta(days=30))))
    second = run_attribution(warehouse, config, until=T0 + timedelta(days=40))
    assert second.since == T0 + timedelta(days=20) - GRACE
    assert second.conversions == 1
    assert _conversions(warehouse) == [("tx:tx-a", 1.0), ("tx:tx-b", 1.0)]

    again = run_attribution(warehouse, config, since=T0, until=T0 + timedelta(days=40))
    assert again.conversions == 2
    assert _conversions(warehouse) == [("tx:tx-a", 1.0), ("tx:tx-b", 1.0)]
    runs = warehouse.rows("SELECT count(), max(conversions) FROM attribution_runs")
    assert runs == [(3, 2)]


def test_channel_values_are_recorded(warehouse: Warehouse) -> None:
    journey = Journey("a", (Touch("visit", 120, channel="direct"), Touch("click", 60)))
    insert(warehouse, journey_events(journey))
    summary = run_attribution(
        warehouse, AttributionConfig(), models=("markov_1", "shapley"), until=T0 + timedelta(days=20)
    )
    assert summary.values["markov_1"] == {"direct": 1.0, "email": 1.0}
    stored = warehouse.rows("SELECT model, channel, value, error FROM attribution_channel_values ORDER BY ALL")
    assert stored == [
        ("markov_1", "direct", 1.0, 0.0),
        ("markov_1", "email", 1.0, 0.0),
        ("shapley", "direct", 0.5, 0.0),
        ("shapley", "email", 0.5, 0.0),
    ]


def test_unknown_models_are_named(warehouse: Warehouse) -> None:
    with pytest.raises(UnknownModel, match="'u_shaped'"):
        run_attribution(warehouse, AttributionConfig(), models=("u_shaped",))
