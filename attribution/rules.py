"""Rule-based models (and Shapley's per-conversion split) as SQL inside ClickHouse, and the SQL that turns any
per-touch score into credit rows.

Every model gives each touch of a conversion a raw score ``r``; the touch's credit is ``r * w / sum(r * w)``
over the conversion, where ``w`` is the touch's weight (1, or ``open_weight`` for a human open). With all weights
1 these are the textbook models:

- ``first_touch`` / ``last_touch``: 1 for the first / last touch.
- ``last_non_direct``: 1 for the last touch whose channel is not ``direct`` (nor ``(none)``); the last touch when
  every touch is direct.
- ``linear``: 1 for every touch.
- ``position_based``: 40 % to the first, 40 % to the last, 20 % split evenly over the touches between them.
  One touch gets 100 %; two touches get 50 % each (there is no middle to give 20 % to).
- ``time_decay``: ``2 ** (-age / half_life)``, the age being the time from the touch to the conversion.

Credited revenue is the credit times the conversion's revenue rounded to the column's 6 decimals, the touch with
the largest credit (the later one on a tie) taking the rounding remainder, so a conversion's rows always add up
to its revenue exactly.
Rows with zero credit are not written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from string import Template

from warehouse import Warehouse
from warehouse.attribution_schema import ATTRIBUTION_CREDITS, any_rows, delete_rows
from warehouse.migrate import dialect_for

from .config import AttributionConfig

__all__ = ["CREDIT_COLUMNS", "RAW_SCORES", "delete_credits", "write_credits"]

CREDIT_COLUMNS: tuple[str, ...] = tuple(name for name, _ in ATTRIBUTION_CREDITS.columns)

_NOT_DIRECT = "channel NOT IN ('direct', '(none)')"

RAW_SCORES: dict[str, str] = {
    "first_touch": "toFloat64(touch_index = 1)",
    "last_touch": "toFloat64(touch_index = touch_count)",
    "last_non_direct": (
        f"toFloat64(touch_index = if(maxIf(touch_index, {_NOT_DIRECT}) OVER journey > 0, "
        f"maxIf(touch_index, {_NOT_DIRECT}) OVER journey, touch_count))"
    ),
    "linear": "1.0",
    "position_based": (
        "multiIf(touch_count = 1, 1.0, touch_count = 2, 0.5, touch_index IN (1, touch_count), 0.4, "
        "0.2 / (touch_count - 2))"
    ),
    "time_decay": (
        "pow(2.0, -dateDiff('millisecond', touch_time, conversion_time) / ({half_life_days:Float64} * 86400000.0))"
    ),
    # Shapley (shapley.py): each distinct channel of the conversion gets an equal share, its touches split it by weight.
    "shapley": "1.0 / sum(weight) OVER (PARTITION BY journey_id, channel)",
    # Markov models pass a value per channel ({names}, {values}); a journey's channels share it in
    # proportion to the weights of their touches. A journey whose channels are all worth 0 is credited linearly.
    "channel_values": (
        "if(sum(transform(channel, {names:Array(String)}, {values:Array(Float64)}, 0.0)) OVER journey > 0, "
        "transform(channel, {names:Array(String)}, {values:Array(Float64)}, 0.0) "
        "/ sum(weight) OVER (PARTITION BY journey_id, channel), 1.0)"
    ),
}

_INSERT = Template("""
INSERT INTO $credits ($columns)
SELECT
    journey_id, conversion_time, conversion_event, person_key, {model:String}, touch_index, touch_time, touch_kind,
    touch_event_id, channel, default_channel, campaign_id, variant, credit,
    if(
        touch_index = argMax(touch_index, (credit, touch_index)) OVER journey,
        revenue - (sum(rounded) OVER journey - rounded),
        rounded
    ),
    currency, {run_id:String}
FROM (
    SELECT *, scored / sum(scored) OVER journey AS credit,
        toDecimal64(round(toFloat64(revenue) * credit, 6), 6) AS rounded
    FROM (
        SELECT *, ($raw) * weight AS scored
        FROM $touches
        WHERE converted = 1
          AND conversion_time >= {since:DateTime64(3, 'UTC')} AND conversion_time < {until:DateTime64(3, 'UTC')}
        WINDOW journey AS (PARTITION BY journey_id)
    )
    WHERE scored > 0
    WINDOW journey AS (PARTITION BY journey_id)
)
WINDOW journey AS (PARTITION BY journey_id)""")


def delete_credits(wh: Warehouse, model: str, since: datetime, until: datetime) -> None:
    """Remove ``model``'s credits of conversions in ``[since, until)`` (a run replaces them)."""
    where = (
        "model = {model:String} AND conversion_time >= {since:DateTime64(3, 'UTC')} "
        "AND conversion_time < {until:DateTime64(3, 'UTC')}"
    )
    d = dialect_for(wh)
    params = {"model": model, "since": since, "until": until}
    if wh.scalar(any_rows(d, ATTRIBUTION_CREDITS, where), params):
        wh.command(delete_rows(d, ATTRIBUTION_CREDITS, where), params)


def write_credits(
    wh: Warehouse,
    model: str,
    config: AttributionConfig,
    *,
    since: datetime,
    until: datetime,
    run_id: str,
    channel_values: Mapping[str, float] | None = None,
) -> None:
    """Replace ``model``'s credits for conversions in ``[since, until)`` from the journeys of ``attribution_touches``.

    Rule models and Shapley score touches by ``RAW_SCORES[model]``; Markov models by ``channel_values``.
    """
    d = dialect_for(wh)
    raw = RAW_SCORES["channel_values" if channel_values is not None else model]
    sql = _INSERT.substitute(
        credits=d.qualified("attribution_credits"),
        touches=d.qualified("attribution_touches"),
        columns=", ".join(CREDIT_COLUMNS),
        raw=raw,
    )
    values = dict(channel_values or {})
    params = {
        "model": model,
        "run_id": run_id,
        "since": since,
        "until": until,
        "half_life_days": config.half_life_days,
        "names": list(values),
        "values": [max(0.0, v) for v in values.values()],
    }
    delete_credits(wh, model, since, until)
    wh.command(sql, params)
