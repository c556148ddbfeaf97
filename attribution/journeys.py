"""Journeys: each conversion with the touches that preceded it, written to ``attribution_touches`` by SQL.

Rules (the README's attribution section says the same):

- A conversion is an event named in ``conversion_events`` that is not an email open or click, de-duplicated by
  transaction id over all time (the earliest copy wins; an event without transaction id is its own conversion).
- Touches of the same person (``attribution_events.person_key``) within the lookback window of their kind, at or
  before the conversion's time:
  - ``click``: an email click judged a person's (verdict human or image_proxy); scanners and prefetches are
    machines and never count. Channel ``email``, weight 1.
  - ``open``: an email open judged a person's; machine opens (Apple MPP, scanners...) never count. Channel
    ``email``, weight ``open_weight`` (0 leaves opens out).
  - ``visit``: a ``session_start`` from the shop, Measurement Protocol or an import (``server``, ``mp``, ``import``),
    or a ``page_view`` there that carries ``params['source']``. Channel ``<source> / <medium>`` in lower case, or
    ``direct`` when neither is given. A visit whose medium is ``email`` is the landing of an email click already
    counted as the click, so it is left out. Weight 1.
- Touches are ordered by time, then event id, so equal times never depend on the order rows were stored in.
- A conversion with no touch gets one row of kind ``none``, channel ``(none)``: every conversion is credited.
- A person with touches in the run's window and no conversion there is a non-converting journey ending at the
  window's end (the same lookback windows apply); Markov and Shapley learn from these, no credit is given.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from string import Template

from warehouse import Warehouse
from warehouse.attribution_schema import ATTRIBUTION_TOUCHES, any_rows, delete_rows
from warehouse.migrate import dialect_for

from .config import AttributionConfig

__all__ = ["TOUCH_COLUMNS", "build_journeys"]

TOUCH_COLUMNS: tuple[str, ...] = tuple(name for name, _ in ATTRIBUTION_TOUCHES.columns)

_PERSON = "verdict IN ('human', 'image_proxy')"
_MS_PER_DAY = 86_400_000

_TOUCHES = """
    SELECT
        person_key,
        event_time AS t,
        event_id,
        multiIf(source = 'click', 'click', source = 'open', 'open', 'visit') AS kind,
        multiIf(
            source IN ('click', 'open'), 'email',
            params['source'] = '' AND params['medium'] = '', 'direct',
            concat(lower(params['source']), ' / ', lower(params['medium']))
        ) AS channel,
        if(source IN ('click', 'open'), campaign_id, params['campaign']) AS campaign,
        if(source IN ('click', 'open'), toString(variant), '') AS variant_,
        if(source = 'open', {open_weight:Float64}, 1.0) AS weight
    FROM $events
    WHERE event_time >= {touch_from:DateTime64(3, 'UTC')} AND event_time < {until:DateTime64(3, 'UTC')}
      AND person_key != ''
      AND (
        (source = 'click' AND $person)
        OR (source = 'open' AND $person AND {open_weight:Float64} > 0)
        OR (source IN ('server', 'mp', 'import')
            AND (event_name = 'session_start' OR (event_name = 'page_view' AND params['source'] != ''))
            AND lower(params['medium']) != 'email')
      )"""

_CONVERSIONS = """
    SELECT
        journey_key AS journey_id,
        argMin(person_key, event_time) AS person_key,
        min(event_time) AS conversion_time,
        argMin(event_name, event_time) AS conversion_event,
        argMin(transaction_id, event_time) AS transaction_id,
        argMin(value, event_time) AS revenue,
        argMin(currency, event_time) AS currency
    FROM (
        SELECT *, if(transaction_id != '', concat('tx:', transaction_id), concat('ev:', event_id)) AS journey_key
        FROM $events
        WHERE event_name IN {conversion_events:Array(String)} AND source NOT IN ('open', 'click')
    )
    GROUP BY journey_key
    HAVING conversion_time >= {since:DateTime64(3, 'UTC')} AND conversion_time < {until:DateTime64(3, 'UTC')}"""

_NON_CONVERTING = """
    SELECT
        concat('null:', person_key) AS journey_id,
        person_key,
        {until:DateTime64(3, 'UTC')} AS conversion_time,
        '' AS conversion_event,
        '' AS transaction_id,
        toDecimal64(0, 6) AS revenue,
        '' AS currency
    FROM ($touches)
    WHERE t >= {since:DateTime64(3, 'UTC')}
      AND person_key NOT IN (
        SELECT person_key FROM $attribution_touches
        WHERE converted = 1 AND run_id = {run_id:String}
      )
    GROUP BY person_key"""

# Both kinds of journey go through the same statement: gather the person's touches, keep those inside their
# kind's window, sort them, and unfold one row per touch (or one `none` row).
_INSERT = """
INSERT INTO $attribution_touches ($columns)
SELECT
    journey_id, {converted:UInt8}, person_key, conversion_time, conversion_event, transaction_id, revenue, currency,
    touch_index, length(path), x.1, x.3, x.2, x.4, x.5, x.6, x.7, {run_id:String}
FROM (
    SELECT
        j.journey_id AS journey_id,
        any(j.person_key) AS person_key,
        any(j.conversion_time) AS conversion_time,
        any(j.conversion_event) AS conversion_event,
        any(j.transaction_id) AS transaction_id,
        any(j.revenue) AS revenue,
        any(j.currency) AS currency,
        arraySort(x -> (x.1, x.2), arrayFilter(
            x -> x.1 <= conversion_time AND dateDiff('millisecond', x.1, conversion_time) <= multiIf(
                x.3 = 'click', {click_ms:Int64}, x.3 = 'open', {open_ms:Int64}, {visit_ms:Int64}),
            groupArray((tt.t, tt.event_id, tt.kind, tt.channel, tt.campaign, tt.variant_, tt.weight))
        )) AS found,
        if(empty(found), [(conversion_time, '', 'none', '(none)', '', '', 1.0)], found) AS path
    FROM ($journeys) AS j
    LEFT JOIN ($touches) AS tt ON j.person_key = tt.person_key
    GROUP BY j.journey_id
)
ARRAY JOIN path AS x, arrayEnumerate(path) AS touch_index"""


def build_journeys(
    wh: Warehouse, config: AttributionConfig, *, since: datetime, until: datetime, run_id: str
) -> tuple[int, int]:
    """Replace the journeys ending in ``[since, until)``; returns (conversions, touch rows) written."""
    d = dialect_for(wh)
    window = "conversion_time >= {since:DateTime64(3, 'UTC')} AND conversion_time <= {until:DateTime64(3, 'UTC')}"
    if wh.scalar(any_rows(d, ATTRIBUTION_TOUCHES, window), {"since": since, "until": until}):
        wh.command(delete_rows(d, ATTRIBUTION_TOUCHES, window), {"since": since, "until": until})
    names = {"events": d.qualified("attribution_events"), "attribution_touches": d.qualified("attribution_touches")}
    touches = Template(_TOUCHES).substitute(names, person=_PERSON)
    params = {
        "since": since,
        "until": until,
        "run_id": run_id,
        "touch_from": _days_before(since, config.max_lookback_days),
        "open_weight": config.open_weight,
        "click_ms": int(config.click_lookback_days * _MS_PER_DAY),
        "open_ms": int(config.open_lookback_days * _MS_PER_DAY),
        "visit_ms": int(config.visit_lookback_days * _MS_PER_DAY),
        "conversion_events": list(config.conversion_events),
    }
    insert = Template(_INSERT)
    columns = ", ".join(TOUCH_COLUMNS)
    for converted, journeys in ((1, _CONVERSIONS), (0, _NON_CONVERTING)):
        source = Template(journeys).substitute(names, touches=touches)
        sql = insert.substitute(names, columns=columns, journeys=source, touches=touches)
        wh.command(sql, {**params, "converted": converted}, _JOIN_SETTINGS)
    counted = wh.rows(
        f"SELECT uniqExactIf(journey_id, converted = 1), countIf(converted = 1) FROM {names['attribution_touches']} "
        "WHERE run_id = {run_id:String}",
        {"run_id": run_id},
    )
    return int(counted[0][0]), int(counted[0][1])


# Touches of a million conversions need not fit in memory at once: the join and the grouping spill to disk past
# these sizes (the journey build of the benchmark's million conversions, alone in a process, peaked at 3.4 GiB
# without the grouping limit and 2.6 GiB with it, in the same time).
_JOIN_SETTINGS = {
    "join_algorithm": "grace_hash,hash",
    "max_bytes_in_join": 1_500_000_000,
    "max_bytes_before_external_group_by": 1_000_000_000,
}


def _days_before(when: datetime, days: float) -> datetime:
    floor = datetime(2000, 1, 1, tzinfo=UTC)
    try:
        return max(when - timedelta(days=days), floor)
    except OverflowError:
        return floor
