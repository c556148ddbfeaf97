"""Every attribution model recomputed in plain Python from the rows of ``attribution_touches``.

Nothing here imports ``attribution``: the rules are written again from the README's definitions, so a test can
hold the package's SQL (and its numpy solve) against a second, independent implementation.

- Rule models: each touch gets a raw score, times its weight, normalised per conversion (README "Models").
  ``last_non_direct`` takes the last touch whose channel is neither ``direct`` (a visit without a source, GA's
  ``(direct) / (none)``...: the journeys already name it so) nor ``(none)`` (a conversion without touches), and
  the last touch when there is none such.
- Markov of order k: the states of channelattribution (windows of k channels, equal neighbours merged), the
  chain's absorption probability found by iterating ``x = r + Q x`` to a fixed point (not by a linear solve), and
  the removal effect ``1 - P(conversion without c) / P(conversion)``; a conversion's credit is shared among its
  channels by their effects, a channel's share among its touches by weight (linear when all effects are 0).
- Shapley: a conversion gives 1/k to each of its k distinct channels, split among their touches by weight;
  a channel's value is the sum of its credits over the fit window's conversions.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

DIRECT = frozenset({"direct", "(none)"})  # the channels last_non_direct passes over
State = tuple[str, ...]


@dataclass(frozen=True)
class Touch:
    """One row of ``attribution_touches``."""

    journey_id: str
    converted: bool
    conversion_time: datetime
    revenue: Decimal
    index: int
    time: datetime
    kind: str
    channel: str
    weight: float


Journey = list[Touch]


def journeys(rows: list[Touch]) -> dict[str, Journey]:
    out: dict[str, Journey] = defaultdict(list)
    for row in rows:
        out[row.journey_id].append(row)
    return {k: sorted(v, key=lambda t: t.index) for k, v in out.items()}


def _normalised(scores: list[float], journey: Journey) -> list[float]:
    weighted = [s * t.weight for s, t in zip(scores, journey, strict=True)]
    total = sum(weighted)
    return [w / total for w in weighted]


def rule_credits(model: str, journey: Journey, half_life_days: float) -> list[float]:
    n = len(journey)
    if model == "first_touch":
        scores = [1.0 if i == 0 else 0.0 for i in range(n)]
    elif model == "last_touch":
        scores = [1.0 if i == n - 1 else 0.0 for i in range(n)]
    elif model == "last_non_direct":
        chosen = max((i for i, t in enumerate(journey) if t.channel not in DIRECT), default=n - 1)
        scores = [1.0 if i == chosen else 0.0 for i in range(n)]
    elif model == "linear":
        scores = [1.0] * n
    elif model == "position_based":
        scores = [1.0] * n if n <= 2 else [0.4 if i in (0, n - 1) else 0.2 / (n - 2) for i in range(n)]
    elif model == "time_decay":
        day_ms = 86_400_000
        ages = [(t.conversion_time - t.time).total_seconds() * 1000 for t in journey]
        scores = [2.0 ** (-age / (half_life_days * day_ms)) for age in ages]
    else:
        raise ValueError(model)
    return _normalised(scores, journey)


def by_channel_values(journey: Journey, values: dict[str, float]) -> list[float]:
    """Markov's split: a channel's value (0 if negative) shared among its touches by weight."""
    weights: dict[str, float] = defaultdict(float)
    for t in journey:
        weights[t.channel] += t.weight
    worth = [max(values.get(t.channel, 0.0), 0.0) for t in journey]
    if sum(worth) == 0:
        return _normalised([1.0] * len(journey), journey)
    return _normalised([w / weights[t.channel] for w, t in zip(worth, journey, strict=True)], journey)


def shapley_credits(journey: Journey) -> list[float]:
    weights: dict[str, float] = defaultdict(float)
    for t in journey:
        weights[t.channel] += t.weight
    return [t.weight / weights[t.channel] / len(weights) for t in journey]


def shapley_values(converted: list[Journey]) -> dict[str, float]:
    values: dict[str, float] = defaultdict(float)
    for journey in converted:
        channels = {t.channel for t in journey}
        for channel in channels:
            values[channel] += 1 / len(channels)
    return dict(values)


def _states(channels: list[str], order: int) -> list[State]:
    windows = [tuple(channels[i : i + order]) for i in range(max(len(channels) - order + 1, 1))]
    return [w for i, w in enumerate(windows) if i == 0 or w != windows[i - 1]]


def _conversion_probability(counts: dict[tuple[State, State], int], removed: str | None) -> float:
    out: dict[State, dict[State, int]] = defaultdict(dict)
    for (a, b), n in counts.items():
        out[a][b] = out[a].get(b, 0) + n
    totals = {a: sum(nexts.values()) for a, nexts in out.items()}
    x: dict[State, float] = dict.fromkeys(out, 0.0)

    def step(a: State) -> float:
        got = 0.0
        for b, n in out[a].items():
            if b == ("(conversion)",):
                got += n
            elif b != ("(null)",) and not (removed and removed in b):
                got += n * x[b]
        return got / totals[a]

    for _ in range(100_000):
        new = {a: step(a) for a in out}
        change = max(abs(new[a] - x[a]) for a in out)
        x = new
        if change < 1e-15:
            break
    else:
        raise AssertionError("the chain did not settle")
    return x[("(start)",)]


def removal_effects(all_journeys: list[Journey], order: int) -> dict[str, float]:
    counts: dict[tuple[State, State], int] = defaultdict(int)
    for journey in all_journeys:
        if journey[0].kind == "none":
            continue
        chain = [("(start)",), *_states([t.channel for t in journey], order)]
        chain.append(("(conversion)",) if journey[0].converted else ("(null)",))
        for a, b in itertools.pairwise(chain):
            counts[(a, b)] += 1
    base = _conversion_probability(counts, None)
    channels = {t.channel for j in all_journeys for t in j if t.kind != "none"}
    return {c: 1 - _conversion_probability(counts, c) / base for c in channels}
