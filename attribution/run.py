"""One attribution run: rebuild the journeys of a time window, then each model's credits; record the run.

Incremental by default: without ``since`` a run starts where the last recorded run ended, less a day of grace
for events that arrive late (their conversions are simply credited again, replacing the earlier rows). The
first run covers everything.

The fit window: Markov and Shapley learn from the journeys ending in ``[until - fit_days, until]``, whatever
``since`` is, so a nightly run learns exactly what a full run ending at the same time learns. The run therefore
rebuilds the journeys of ``[min(since, until - fit_days), until)`` (late events and identity joins reach the fit
too), and replaces credits only for the conversions of ``[since, until)``; the non-converting journeys end at
``until`` and do not depend on ``since`` (``journeys.py``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from string import Template

from warehouse import Warehouse
from warehouse.attribution_schema import ATTRIBUTION_CHANNEL_VALUES, ATTRIBUTION_RUNS
from warehouse.migrate import dialect_for

from .config import MODELS, RULE_MODELS, AttributionConfig, check_models
from .journeys import build_journeys
from .markov import removal_effects, transition_counts_sql
from .rules import write_credits
from .shapley import shapley_values

__all__ = ["EPOCH", "GRACE", "Progress", "RunSummary", "fit_start", "last_run_end", "run_attribution"]

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # before any event; (typed parameters need 10-digit epochs)
GRACE = timedelta(days=1)

Progress = Callable[[str, int, int], None]
"""Called as ``progress(step, done, total)`` before each step and once at the end (step ``done``)."""


@dataclass(frozen=True)
class RunSummary:
    """What a run did. ``values`` holds what the data-driven models learned per channel, ``errors`` their bounds."""

    run_id: str
    since: datetime
    until: datetime
    models: tuple[str, ...]
    conversions: int
    touches: int
    seconds: dict[str, float] = field(default_factory=dict)
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: dict[str, dict[str, float]] = field(default_factory=dict)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def last_run_end(wh: Warehouse) -> datetime | None:
    """The end of the window of the latest recorded run, or None before the first run."""
    table = dialect_for(wh).qualified(ATTRIBUTION_RUNS.name)
    rows = wh.rows(f"SELECT max(until), count() FROM {table}")
    if not rows or not rows[0][1]:
        return None
    value: datetime = rows[0][0]
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def run_attribution(
    wh: Warehouse,
    config: AttributionConfig,
    *,
    models: Sequence[str] = MODELS,
    since: datetime | None = None,
    until: datetime | None = None,
    clock: Callable[[], datetime] = _utcnow,
    progress: Progress | None = None,
) -> RunSummary:
    """Attribute the conversions of ``[since, until)`` with ``models`` and record the run."""
    chosen = check_models(list(models))
    started = clock()
    end = until or started
    end = end.replace(microsecond=end.microsecond // 1000 * 1000)  # the warehouse keeps milliseconds
    if since is None:
        previous = last_run_end(wh)
        since = previous - GRACE if previous else EPOCH
    since = min(since, end)
    run_id = uuid.uuid4().hex
    report = progress or (lambda step, done, total: None)
    total = len(chosen) + 1
    seconds: dict[str, float] = {}
    values: dict[str, dict[str, float]] = {}
    errors: dict[str, dict[str, float]] = {}

    report("journeys", 0, total)
    tick = time.perf_counter()
    fit_from = fit_start(config, end)
    fitting = any(m not in RULE_MODELS for m in chosen)
    build_from = min(since, fit_from) if fitting else since
    build_journeys(wh, config, since=build_from, until=end, run_id=run_id)
    conversions, touches = _credited(wh, run_id, since)
    seconds["journeys"] = time.perf_counter() - tick
    for done, model in enumerate(chosen, 1):
        report(model, done, total)
        tick = time.perf_counter()
        if model in RULE_MODELS:
            write_credits(wh, model, config, since=since, until=end, run_id=run_id)
        else:
            learned, journeys = _fit(wh, model, config, run_id, fit_from, end)
            bounds = dict.fromkeys(learned, 0.0)  # both are computed exactly
            # Shapley's credit of one conversion is that conversion's own game (shapley.py), not a share of values.
            shared = None if model == "shapley" else learned
            write_credits(wh, model, config, since=since, until=end, run_id=run_id, channel_values=shared)
            values[model], errors[model] = learned, bounds
            _record_values(wh, run_id, started, model, learned, bounds, journeys)
        seconds[model] = time.perf_counter() - tick
    report("done", total, total)
    wh.insert(
        dialect_for(wh).qualified(ATTRIBUTION_RUNS.name),
        [(run_id, started, clock(), since, end, list(chosen), conversions, touches)],
        [name for name, _ in ATTRIBUTION_RUNS.columns],
    )
    return RunSummary(run_id, since, end, chosen, conversions, touches, seconds, values, errors)


def fit_start(config: AttributionConfig, until: datetime) -> datetime:
    """The start of the fit window of a run ending at ``until``: ``fit_days`` before it, never before ``EPOCH``."""
    try:
        return max(until - timedelta(days=config.fit_days), EPOCH)
    except OverflowError:
        return EPOCH


def _credited(wh: Warehouse, run_id: str, since: datetime) -> tuple[int, int]:
    """(conversions, touch rows) of the run's journeys that it credits, those ending at or after ``since``."""
    rows = wh.rows(
        f"SELECT uniqExactIf(journey_id, converted = 1), countIf(converted = 1) FROM {_touches(wh)} "
        "WHERE run_id = {run_id:String} AND conversion_time >= {since:DateTime64(3, 'UTC')}",
        {"run_id": run_id, "since": since},
    )
    return int(rows[0][0]), int(rows[0][1])


# The fit reads this run's journeys only: the run rebuilt every journey of the fit window.
_FIT_JOURNEYS = """
    FROM $touches
    WHERE run_id = {run_id:String} AND touch_kind != 'none'
      AND conversion_time >= {fit_from:DateTime64(3, 'UTC')} AND conversion_time <= {until:DateTime64(3, 'UTC')}"""

_CHANNEL_SETS = Template("""
SELECT channels, count()
FROM (
    SELECT arraySort(groupUniqArray(toString(channel))) AS channels
    $journeys AND converted = 1
    GROUP BY journey_id
)
GROUP BY channels""")


def _fit(
    wh: Warehouse, model: str, config: AttributionConfig, run_id: str, fit_from: datetime, until: datetime
) -> tuple[dict[str, float], int]:
    """Learn a data-driven model's value per channel; returns the values and how many journeys it learned from."""
    touches = _touches(wh)
    journeys = Template(_FIT_JOURNEYS).substitute(touches=touches)
    window = {"run_id": run_id, "fit_from": fit_from, "until": until}
    if model == "shapley":
        rows = wh.rows(_CHANNEL_SETS.substitute(journeys=journeys), window)
        sets = {frozenset(channels): int(n) for channels, n in rows}
        return shapley_values(sets), sum(sets.values())
    seen = int(wh.rows(f"SELECT uniqExact(journey_id) {journeys}", window)[0][0])
    order = int(model.rsplit("_", 1)[1])
    sql = Template(transition_counts_sql()).substitute(journeys=journeys)
    counts = {(tuple(a), tuple(b)): int(n) for a, b, n in wh.rows(sql, {**window, "order": order})}
    return removal_effects(counts, max_states=config.max_markov_states), seen


def _touches(wh: Warehouse) -> str:
    return dialect_for(wh).qualified("attribution_touches")


def _record_values(
    wh: Warehouse,
    run_id: str,
    run_at: datetime,
    model: str,
    learned: dict[str, float],
    bounds: dict[str, float],
    journeys: int,
) -> None:
    rows = [(run_id, run_at, model, ch, v, bounds.get(ch, 0.0), journeys) for ch, v in sorted(learned.items())]
    table = dialect_for(wh).qualified(ATTRIBUTION_CHANNEL_VALUES.name)
    wh.insert(table, rows, [name for name, _ in ATTRIBUTION_CHANNEL_VALUES.columns])
