"""Shapley values: a published worked example, the textbook definition, and efficiency as a property.

The game is v(S) = conversions of journeys whose channels are a subset of S (attribution/shapley.py). The closed
form must equal the Shapley value computed from its definition (marginal contributions averaged over every order
of the channels) on that game, and the values must add up to the conversions.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attribution import shapley_values

EXAMPLE = Path(__file__).parents[1] / "data" / "attribution" / "shapley_worked_example.json"
PLAYERS = "abcdef"

Counts = dict[frozenset[str], int]


def _worth(counts: Counts, members: frozenset[str]) -> int:
    return sum(n for channels, n in counts.items() if channels <= members)


def _by_definition(counts: Counts) -> dict[str, float]:
    """The Shapley value from its definition: each channel's marginal worth averaged over all orders."""
    players = sorted({p for s in counts for p in s})
    totals = dict.fromkeys(players, 0.0)
    for order in itertools.permutations(players):
        joined: frozenset[str] = frozenset()
        for player in order:
            before = _worth(counts, joined)
            joined = joined | {player}
            totals[player] += _worth(counts, joined) - before
    return {p: v / math.factorial(len(players)) for p, v in totals.items()}


def test_the_published_worked_example() -> None:
    example = json.loads(EXAMPLE.read_text())
    counts = {frozenset(row["channels"]): row["conversions"] for row in example["conversions_by_channel_set"]}
    for name, worth in example["worth"].items():
        assert _worth(counts, frozenset(name.split("+"))) == worth
    values = shapley_values(counts)
    assert values == pytest.approx(example["shapley_values"], abs=1e-9)


def _games() -> st.SearchStrategy[Counts]:
    channel_set = st.frozensets(st.sampled_from(PLAYERS), min_size=1)
    return st.dictionaries(channel_set, st.integers(0, 1000), min_size=1, max_size=20)


@given(_games())
def test_values_add_up_to_the_conversions(counts: Counts) -> None:
    values = shapley_values(counts)
    assert set(values) == {p for s in counts for p in s}
    assert sum(values.values()) == pytest.approx(sum(counts.values()), abs=1e-9)
    assert all(v >= 0 for v in values.values())


@given(st.dictionaries(st.frozensets(st.sampled_from(PLAYERS[:5]), min_size=1), st.integers(0, 50), max_size=10))
def test_the_closed_form_is_the_shapley_value_of_the_game(counts: Counts) -> None:
    assert shapley_values(counts) == pytest.approx(_by_definition(counts), abs=1e-9)


def test_a_channel_seen_only_without_conversions_gets_nothing() -> None:
    counts = {frozenset("a"): 5, frozenset("ab"): 4, frozenset("c"): 0}
    assert shapley_values(counts) == {"a": 7.0, "b": 2.0, "c": 0.0}


def test_many_channels_are_exact() -> None:
    """40 channels: 2^40 coalitions, still the exact value (sampling was the old answer past 12 channels)."""
    channels = [f"ch{i:02d}" for i in range(40)]
    counts = {frozenset(channels): 40, frozenset(channels[:1]): 3}
    values = shapley_values(counts)
    assert values["ch00"] == pytest.approx(4.0, abs=1e-12)
    assert values["ch39"] == pytest.approx(1.0, abs=1e-12)
