"""Shapley values: the axioms on exact values, and sampled values within their reported error."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attribution import shapley_values

PLAYERS = "abcdef"


def _games() -> st.SearchStrategy[dict[frozenset[str], tuple[int, int]]]:
    coalition = st.frozensets(st.sampled_from(PLAYERS), min_size=1)
    outcome = st.tuples(st.integers(0, 50), st.integers(1, 50)).map(lambda t: (min(t), max(t)))
    return st.dictionaries(coalition, outcome, min_size=1, max_size=12)


@given(_games())
def test_exact_values_are_efficient_and_symmetric(game: dict[frozenset[str], tuple[int, int]]) -> None:
    result = shapley_values(game)
    everyone = frozenset(p for s in game for p in s)
    conversions, journeys = game.get(everyone, (0, 1))
    assert result.exact
    assert result.max_error == 0
    assert sum(result.values.values()) == pytest.approx(conversions / journeys)
    # Renaming a channel changes nothing but its name.
    renamed = {frozenset({"z" if p == "a" else p for p in s}): v for s, v in game.items()}
    swapped = shapley_values(renamed)
    if "a" in result.values:
        assert swapped.values["z"] == pytest.approx(result.values["a"])


def test_a_channel_that_adds_nothing_gets_nothing() -> None:
    game = {frozenset("a"): (5, 10), frozenset("ab"): (5, 10), frozenset("b"): (0, 10)}
    values = shapley_values(game).values
    assert values == {"a": pytest.approx(0.5), "b": pytest.approx(0.0)}


def test_sampled_values_are_within_their_bound() -> None:
    game = {
        frozenset(s): (len(s) * 3 + (7 if "a" in s else 0), 40)
        for r in range(1, 7)
        for s in itertools.combinations(PLAYERS, r)
    }
    exact = shapley_values(game).values
    sampled = shapley_values(game, exact_max=0, samples=4000, seed=7)
    assert not sampled.exact
    assert 0 < sampled.max_error < 0.05
    for player, value in exact.items():
        # a 95 % bound: allow 1.5 times it so the fixed seed is not a coin toss
        assert abs(sampled.values[player] - value) <= 1.5 * sampled.errors[player] + 1e-12
