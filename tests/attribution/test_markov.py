"""Markov removal effects: states, exact solve on a chain worked by hand, and SQL counts equal to Python's."""

from __future__ import annotations

import random
from datetime import timedelta
from string import Template

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attribution import (
    AttributionConfig,
    ModelTooLarge,
    path_states,
    removal_effects,
    run_attribution,
    transition_counts,
)
from attribution.markov import transition_counts_sql
from warehouse import Warehouse

from .data import T0, UNTIL, Journey, Touch, insert, journey_events

CHANNELS = ["email", "google / cpc", "facebook / paid", "direct"]


def test_states_follow_channelattribution() -> None:
    assert path_states(["a", "a", "b"], 1) == [("a",), ("b",)]
    assert path_states(["a", "a", "b"], 2) == [("a", "a"), ("a", "b")]
    assert path_states(["a"], 3) == [("a",)]
    assert path_states(["a", "b", "c", "d"], 3) == [("a", "b", "c"), ("b", "c", "d")]


def test_removal_effects_of_a_chain_worked_by_hand() -> None:
    # Journeys (conversions, non-conversions): a>b (3, 1), b (2, 2), a>c>b (1, 0), c (0, 4).
    # P(conv) = 6/13; without a: 3.2/13, so 1 - 3.2/6; without c: 16/39, so 1 - 16/(39 * 6/13) = 1/9.
    counts = transition_counts([(["a", "b"], 3, 1), (["b"], 2, 2), (["a", "c", "b"], 1, 0), (["c"], 0, 4)], 1)
    effects = removal_effects(counts)
    assert effects["a"] == pytest.approx(1 - 3.2 / 6)
    assert effects["b"] == pytest.approx(1.0)
    assert effects["c"] == pytest.approx(1 / 9)


def test_nothing_converts_means_no_effect() -> None:
    assert removal_effects(transition_counts([(["a", "b"], 0, 5)], 1)) == {"a": 0.0, "b": 0.0}


def test_too_many_states_is_refused() -> None:
    counts = transition_counts([([f"ch{i}"], 1, 0) for i in range(20)], 1)
    with pytest.raises(ModelTooLarge) as caught:
        removal_effects(counts, max_states=10)
    assert caught.value.states == 21


@given(st.lists(st.lists(st.sampled_from("abc"), min_size=1, max_size=6), min_size=1, max_size=20))
def test_a_one_channel_world_gives_that_channel_everything(paths: list[list[str]]) -> None:
    counts = transition_counts([(["a"] * len(p), 1, 0) for p in paths], 1)
    assert removal_effects(counts) == {"a": pytest.approx(1.0)}


@pytest.mark.parametrize("order", [1, 2, 3])
def test_sql_transition_counts_equal_pythons(warehouse: Warehouse, order: int) -> None:
    rng = random.Random(order)
    journeys = []
    for i in range(60):
        chans = [rng.choice(CHANNELS) for _ in range(rng.randint(1, 6))]
        touches = tuple(
            Touch("click", 600 - 60 * k) if ch == "email" else Touch("visit", 600 - 60 * k, channel=ch)
            for k, ch in enumerate(chans)
        )
        converted = rng.random() < 0.6
        # A journey that does not convert ends at the run's end: its touches must be inside the windows from there.
        ends = T0 + timedelta(days=10) if converted else UNTIL - timedelta(days=1)
        journeys.append((chans, Journey(f"p{i}", touches, converts_at=ends, converted=converted)))
        insert(warehouse, journey_events(journeys[-1][1]))
    run_attribution(warehouse, AttributionConfig(), models=(), since=T0, until=UNTIL)
    fit = "FROM attribution_touches WHERE touch_kind != 'none'"
    rows = warehouse.rows(Template(transition_counts_sql()).substitute(journeys=fit), {"order": order})
    from_sql = {(tuple(a), tuple(b)): n for a, b, n in rows}
    expected = transition_counts([(c, int(j.converted), int(not j.converted)) for c, j in journeys], order)
    assert from_sql == expected
