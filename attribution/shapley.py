"""Shapley values of channels, exact up to ``exact_max`` channels and sampled above with an error bound.

The game: the worth of a set of channels S is the conversion rate of the journeys whose touches came from exactly
the channels in S (0 for a set no journey had), ``v(S) = conversions(S) / journeys(S)``. A channel's Shapley value
is its marginal worth averaged over every order in which the channels could join. Exact: the sum over all subsets
(2^n terms per channel, n <= 12 by default). Sampled: the mean over ``samples`` random orders with a fixed seed;
the reported error is the 95 % half-width, ``1.96 * sd / sqrt(samples)``, of each channel's estimate.

Credits per conversion share out these values among the journey's channels (negative values count as 0), so a
value depends only on which channels a journey touched, never on their order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ShapleyResult", "shapley_values"]


@dataclass(frozen=True)
class ShapleyResult:
    """Values per channel, the 95 % error of each (0 when exact), and whether they were computed exactly."""

    values: dict[str, float]
    errors: dict[str, float]
    exact: bool

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)


def shapley_values(
    coalitions: Mapping[frozenset[str], tuple[int, int]],
    *,
    exact_max: int = 12,
    samples: int = 2000,
    seed: int = 0,
) -> ShapleyResult:
    """Shapley values from ``{channel set: (conversions, journeys)}``."""
    players = sorted({p for s in coalitions for p in s})
    bit = {p: 1 << i for i, p in enumerate(players)}
    worth: dict[int, float] = {}
    for members, (conversions, journeys) in coalitions.items():
        mask = sum(bit[p] for p in members)
        if journeys > 0 and mask:
            worth[mask] = conversions / journeys
    n = len(players)
    if n <= exact_max:
        return ShapleyResult(_exact(players, worth), dict.fromkeys(players, 0.0), True)
    return _sampled(players, worth, samples, seed)


def _exact(players: list[str], worth: Mapping[int, float]) -> dict[str, float]:
    n = len(players)
    # weight(|S|) = |S|! (n - |S| - 1)! / n!
    weights = [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)]
    values = {}
    for i, player in enumerate(players):
        me = 1 << i
        total = 0.0
        for mask in range(1 << n):
            if mask & me:
                continue
            gain = worth.get(mask | me, 0.0) - worth.get(mask, 0.0)
            if gain:
                total += weights[mask.bit_count()] * gain
        values[player] = total
    return values


def _sampled(players: list[str], worth: Mapping[int, float], samples: int, seed: int) -> ShapleyResult:
    rng = random.Random(seed)  # noqa: S311 - reproducible sampling, not secrecy
    n = len(players)
    sums = [0.0] * n
    squares = [0.0] * n
    order = list(range(n))
    for _ in range(samples):
        rng.shuffle(order)
        mask = 0
        before = 0.0
        for i in order:
            mask |= 1 << i
            after = worth.get(mask, 0.0)
            gain = after - before
            sums[i] += gain
            squares[i] += gain * gain
            before = after
    values, errors = {}, {}
    for i, player in enumerate(players):
        mean = sums[i] / samples
        variance = max(squares[i] / samples - mean * mean, 0.0) * samples / max(samples - 1, 1)
        values[player] = mean
        errors[player] = 1.96 * math.sqrt(variance / samples)
    return ShapleyResult(values, errors, False)
