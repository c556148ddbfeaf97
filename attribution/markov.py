"""Markov chain attribution of order 1 to 3: removal effects solved exactly as an absorbing chain.

States follow the convention of the ``channelattribution`` package so results compare: a journey's channels
c1..cn become the windows (c_i .. c_{i+k-1}) for i = 1..n-k+1 (the whole journey when it is shorter than k),
consecutive equal windows are merged (for k = 1 this drops repeats: ``a > a > b`` is ``a > b``), and the chain runs
``(start) -> windows... -> (conversion)`` or ``(null)`` for a journey that did not convert.

The transition counts are built inside ClickHouse (``transition_counts_sql``); the solve happens here. Removing a
channel sends every transition into a state that contains it to ``(null)``; with ``x`` the absorption probability
into ``(conversion)`` over the remaining transient states, ``(I - Q) x = r``, the removal effect is
``1 - x_c[start] / x[start]``. This is exact linear algebra (numpy's LU solve), not a simulation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .errors import ModelTooLarge

__all__ = [
    "CONVERSION",
    "NULL",
    "START",
    "State",
    "path_states",
    "removal_effects",
    "transition_counts",
    "transition_counts_sql",
]

State = tuple[str, ...]
START: State = ("(start)",)
CONVERSION: State = ("(conversion)",)
NULL: State = ("(null)",)


def path_states(channels: Sequence[str], order: int) -> list[State]:
    """The chain's states along one journey (without start and end), as described in the module docstring."""
    if not channels:
        return []
    count = max(len(channels) - order + 1, 1)
    states: list[State] = []
    for i in range(count):
        window = tuple(channels[i : i + order])
        if not states or states[-1] != window:
            states.append(window)
    return states


def transition_counts(journeys: Iterable[tuple[Sequence[str], int, int]], order: int) -> dict[tuple[State, State], int]:
    """Transition counts from (channels, conversions, non-conversions) triples, in Python (the SQL's twin)."""
    counts: dict[tuple[State, State], int] = defaultdict(int)
    for channels, converted, lost in journeys:
        states = [START, *path_states(channels, order)]
        for end, n in ((CONVERSION, converted), (NULL, lost)):
            if n:
                for a, b in zip(states, [*states[1:], end], strict=True):
                    counts[(a, b)] += n
    return dict(counts)


def transition_counts_sql() -> str:
    """SQL: (from state, to state, count) over the touches of ``$journeys`` (a ``FROM ... WHERE ...`` clause of
    ``attribution_touches``), the chain's order given as ``{order:UInt8}``."""
    return """
SELECT pair.1 AS from_state, pair.2 AS to_state, count() AS n
FROM (
    SELECT
        any(converted) AS conv,
        arrayMap(t -> t.2, arraySort(groupArray((touch_index, toString(channel))))) AS chans,
        arrayMap(
            i -> arraySlice(chans, i, {order:UInt8}), range(1, greatest(length(chans) - {order:UInt8} + 1, 1) + 1)
        ) AS windows,
        arrayFilter((w, i) -> i = 1 OR w != windows[i - 1], windows, arrayEnumerate(windows)) AS states,
        arrayConcat([['(start)']], states, [if(conv = 1, ['(conversion)'], ['(null)'])]) AS chain
    $journeys
    GROUP BY journey_id
)
ARRAY JOIN arrayZip(arrayPopBack(chain), arrayPopFront(chain)) AS pair
GROUP BY from_state, to_state"""


def removal_effects(counts: Mapping[tuple[State, State], float], *, max_states: int = 4000) -> dict[str, float]:
    """The removal effect of every channel appearing in the chain's states (0 when nothing converts)."""
    transient = sorted({a for a, _ in counts} - {CONVERSION, NULL})
    if len(transient) > max_states:
        raise ModelTooLarge(len(transient), max_states)
    index = {state: i for i, state in enumerate(transient)}
    n = len(transient)
    q = np.zeros((n, n))
    r = np.zeros(n)
    totals = np.zeros(n)
    for (a, b), c in counts.items():
        totals[index[a]] += c
        if b == CONVERSION:
            r[index[a]] += c
        elif b != NULL:
            q[index[a], index[b]] += c
    totals[totals == 0] = 1.0
    q /= totals[:, None]
    r /= totals
    channels = sorted({ch for state in transient if state != START for ch in state})
    base = _absorption(q, r, index[START], np.ones(n, dtype=bool)) if START in index else 0.0
    effects: dict[str, float] = {}
    for channel in channels:
        keep = np.array([state == START or channel not in state for state in transient])
        without = _absorption(q, r, index[START], keep)
        effects[channel] = 1.0 - without / base if base > 0 else 0.0
    return effects


def _absorption(q: np.ndarray, r: np.ndarray, start: int, keep: np.ndarray) -> float:
    """Probability of reaching (conversion) from ``start`` when only the ``keep`` states remain."""
    idx = np.flatnonzero(keep)
    sub = q[np.ix_(idx, idx)]
    x = np.linalg.solve(np.eye(len(idx)) - sub, r[idx])
    return float(x[int(np.searchsorted(idx, start))])
