"""Journeys: each conversion with the touches that preceded it, written to ``attribution_touches`` by SQL.

Rules (the README's attribution section says the same):

- A conversion is an event named in ``conversion_events`` that is not an email open or click, de-duplicated by
  transaction id over all time (the earliest copy wins; an event without transaction id is its own conversion).
- Touches of the same person (``attribution_events.person_key``: the person the identity graph knows at the run,
  see ``warehouse.attribution_schema``) within the lookback window of their kind, at or before the conversion's
  time:
  - ``click``: an email click judged a person's (verdict human or image_proxy); scanners and prefetches are
    machines and never count. Channel ``email``, weight 1.
  - ``open``: an email open judged a person's; machine opens (Apple MPP, scanners...) never count. Channel
    ``email``, weight ``open_weight`` (0 leaves opens out).
  - ``visit``: a ``session_start`` or a ``page_view`` from the shop's backend, Measurement Protocol or an import
    (source ``server``, ``mp`` or ``import``). Channel ``<source> / <medium>`` in lower case (an empty one reads
    ``(not set)``), or ``direct`` for GA's direct conventions (``channels.is_direct_sql``: no source,
    ``(direct)``, ``(not set)``; no medium, ``(none)``). A page view without a source is a landing, so a direct
    touch, only when the person has no visit or email click in the 30 minutes before (else it is a page of that
    session). A session start is a touch, except one without a source within 30 minutes of an email click: the
    shop's session start for the session the click opened is that click's landing (GA4 gives that session to the
    email). A visit whose medium is ``email`` is the landing of an email click already counted as the click, so
    it is left out. Weight 1.
  Each touch also carries GA4's default channel group (``channels.default_channel_sql``; email is ``Email``).
- Touches are ordered by time, then event id, so equal times never depend on the order rows were stored in.
- A conversion with no touch gets one row of kind ``none``, channel and default channel ``(none)``: every
  conversion is credited.
- A person with touches after their latest conversion (or with touches and no conversion at all) has a
  non-converting journey ending at the run's end ``until``: those touches, within their kind's lookback window
  from ``until``. Markov learns from these; no credit is given. They depend on ``until`` only, never on where
  the run starts, so every run ending at the same time learns from the same ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from string import Template

from identity import GraphConfig, load_graph
from warehouse import Warehouse
from warehouse.attribution_schema import ATTRIBUTION_PEOPLE, ATTRIBUTION_TOUCHES, any_rows, delete_rows, truncate
from warehouse.migrate import dialect_for

from .channels import default_channel_sql, is_direct_sql, site_params
from .config import AttributionConfig

__all__ = ["TOUCH_COLUMNS", "build_journeys", "fill_people"]

TOUCH_COLUMNS: tuple[str, ...] = tuple(name for name, _ in ATTRIBUTION_TOUCHES.columns)

_PERSON = "verdict IN ('human', 'image_proxy')"
_MS_PER_DAY = 86_400_000

# A page view without a source within this long of the person's previous visit or email click continues that
# session (GA's default session timeout): it is not a landing, so not a new direct touch.
_SESSION_MS = 30 * 60 * 1000

_VISITS = """
    SELECT
        person_key, event_time AS t, event_id, source, event_name, campaign_id, variant,
        lower(trimBoth(params['source'])) AS src,
        lower(trimBoth(params['medium'])) AS med,
        params['campaign'] AS campaign_name,
        $direct AS direct,
        lagInFrame(toNullable(event_time)) OVER w AS previous,
        lagInFrame(source) OVER w AS previous_source
    FROM $events
    WHERE event_time >= {touch_from:DateTime64(3, 'UTC')} - INTERVAL 30 MINUTE
      AND event_time < {until:DateTime64(3, 'UTC')}
      AND person_key != ''
      AND ((source = 'click' AND $person)
           OR (source IN ('server', 'mp', 'import') AND event_name IN ('session_start', 'page_view')))
    WINDOW w AS (
        -- a session start first: the page view sent with it at the same moment is a page of its session
        PARTITION BY person_key ORDER BY event_time, event_name != 'session_start', event_id
        ROWS BETWEEN 1 PRECEDING AND CURRENT ROW
    )"""

_TOUCHES = """
    SELECT
        person_key, t, event_id,
        if(source = 'click', 'click', 'visit') AS kind,
        multiIf(source = 'click', 'email', direct, 'direct',
                concat(if(src = '', '(not set)', src), ' / ', if(med = '', '(not set)', med))) AS channel,
        if(source = 'click', 'Email', $default_channel) AS default_channel,
        if(source = 'click', campaign_id, campaign_name) AS campaign,
        if(source = 'click', toString(variant), '') AS variant_,
        1.0 AS weight
    FROM ($visits)
    WHERE t >= {touch_from:DateTime64(3, 'UTC')}
      AND (source = 'click'
           OR (med != 'email'
               AND (NOT direct OR previous IS NULL
                    OR dateDiff('millisecond', assumeNotNull(previous), t) > {session_ms:Int64}
                    OR (event_name = 'session_start' AND previous_source != 'click'))))
    UNION ALL
    SELECT
        person_key, event_time AS t, event_id, 'open' AS kind, 'email' AS channel, 'Email' AS default_channel,
        campaign_id AS campaign, toString(variant) AS variant_, {open_weight:Float64} AS weight
    FROM $events
    WHERE event_time >= {touch_from:DateTime64(3, 'UTC')} AND event_time < {until:DateTime64(3, 'UTC')}
      AND person_key != '' AND source = 'open' AND $person AND {open_weight:Float64} > 0"""

_CONVERSIONS = """
    SELECT
        journey_key AS journey_id,
        argMin(person_key, event_time) AS person_key,
        min(event_time) AS conversion_time,
        argMin(event_name, event_time) AS conversion_event,
        argMin(transaction_id, event_time) AS transaction_id,
        argMin(value, event_time) AS revenue,
        argMin(currency, event_time) AS currency,
        toDateTime64(0, 3, 'UTC') AS touches_after
    FROM ($all_conversions)
    GROUP BY journey_key
    HAVING conversion_time >= {since:DateTime64(3, 'UTC')} AND conversion_time < {until:DateTime64(3, 'UTC')}"""

# Every copy of every conversion event, keyed by the conversion it belongs to.
_ALL_CONVERSIONS = """
        SELECT *, if(transaction_id != '', concat('tx:', transaction_id), concat('ev:', event_id)) AS journey_key
        FROM $events
        WHERE event_name IN {conversion_events:Array(String)} AND source NOT IN ('open', 'click')"""

# A person's touches after their latest conversion before the run's end (all of them for a person who never
# converted; the LEFT JOIN's default time is 1970) make the non-converting journey. Only touches that can fall
# inside a lookback window from ``until`` are looked at.
_NON_CONVERTING = """
    SELECT
        concat('null:', tt.person_key) AS journey_id,
        tt.person_key AS person_key,
        {until:DateTime64(3, 'UTC')} AS conversion_time,
        '' AS conversion_event,
        '' AS transaction_id,
        toDecimal64(0, 6) AS revenue,
        '' AS currency,
        any(c.last_conversion) AS touches_after
    FROM ($touches) AS tt
    LEFT JOIN (
        SELECT person_key, max(conversion_time) AS last_conversion
        FROM (
            SELECT journey_key, argMin(person_key, event_time) AS person_key, min(event_time) AS conversion_time
            FROM ($all_conversions)
            GROUP BY journey_key
        )
        WHERE conversion_time < {until:DateTime64(3, 'UTC')}
        GROUP BY person_key
    ) AS c ON tt.person_key = c.person_key
    WHERE tt.t >= {null_from:DateTime64(3, 'UTC')} AND tt.t > c.last_conversion
    GROUP BY tt.person_key"""

# Both kinds of journey go through the same statement: gather the person's touches, keep those inside their
# kind's window, sort them, and unfold one row per touch (or one `none` row).
_INSERT = """
INSERT INTO $attribution_touches ($columns)
SELECT
    journey_id, {converted:UInt8}, person_key, conversion_time, conversion_event, transaction_id, revenue, currency,
    touch_index, length(path), x.1, x.3, x.2, x.4, x.5, x.6, x.7, x.8, {run_id:String}
FROM (
    SELECT
        j.journey_id AS journey_id,
        any(j.person_key) AS person_key,
        any(j.conversion_time) AS conversion_time,
        any(j.conversion_event) AS conversion_event,
        any(j.transaction_id) AS transaction_id,
        any(j.revenue) AS revenue,
        any(j.currency) AS currency,
        any(j.touches_after) AS touches_after,
        arraySort(x -> (x.1, x.2), arrayFilter(
            x -> x.1 <= conversion_time AND x.1 > touches_after
                AND dateDiff('millisecond', x.1, conversion_time) <= multiIf(
                    x.3 = 'click', {click_ms:Int64}, x.3 = 'open', {open_ms:Int64}, {visit_ms:Int64}),
            groupArray((tt.t, tt.event_id, tt.kind, tt.channel, tt.default_channel, tt.campaign, tt.variant_,
                        tt.weight))
        )) AS found,
        if(empty(found), [(conversion_time, '', 'none', '(none)', '(none)', '', '', 1.0)], found) AS path
    FROM ($journeys) AS j
    LEFT JOIN ($touches) AS tt ON j.person_key = tt.person_key
    GROUP BY j.journey_id
)
ARRAY JOIN path AS x, arrayEnumerate(path) AS touch_index"""


def build_journeys(
    wh: Warehouse, config: AttributionConfig, *, since: datetime, until: datetime, run_id: str
) -> tuple[int, int]:
    """Replace the journeys ending in ``[since, until)``; returns (conversions, touch rows) written.

    People are who the identity graph says they are now (``attribution_people``, filled for the build and emptied
    after it), so an identification made after a click or a purchase joins them here.
    """
    d = dialect_for(wh)
    window = "conversion_time >= {since:DateTime64(3, 'UTC')} AND conversion_time <= {until:DateTime64(3, 'UTC')}"
    if wh.scalar(any_rows(d, ATTRIBUTION_TOUCHES, window), {"since": since, "until": until}):
        wh.command(delete_rows(d, ATTRIBUTION_TOUCHES, window), {"since": since, "until": until})
    names = {"events": d.qualified("attribution_events"), "attribution_touches": d.qualified("attribution_touches")}
    visits = Template(_VISITS).substitute(names, person=_PERSON, direct=is_direct_sql("src", "med"))
    touches = Template(_TOUCHES).substitute(
        names, person=_PERSON, visits=visits, default_channel=default_channel_sql("src", "med", "lower(campaign_name)")
    )
    params = {
        "since": since,
        "until": until,
        "run_id": run_id,
        "touch_from": _days_before(since, config.max_lookback_days),
        "null_from": _days_before(until, config.max_lookback_days),
        "open_weight": config.open_weight,
        "click_ms": int(config.click_lookback_days * _MS_PER_DAY),
        "open_ms": int(config.open_lookback_days * _MS_PER_DAY),
        "visit_ms": int(config.visit_lookback_days * _MS_PER_DAY),
        "session_ms": _SESSION_MS,
        "conversion_events": list(config.conversion_events),
        **site_params(),
    }
    insert = Template(_INSERT)
    columns = ", ".join(TOUCH_COLUMNS)
    fill_people(wh, config.identity)
    try:
        for converted, journeys in ((1, _CONVERSIONS), (0, _NON_CONVERTING)):
            all_conversions = Template(_ALL_CONVERSIONS).substitute(names)
            source = Template(journeys).substitute(names, touches=touches, all_conversions=all_conversions)
            sql = insert.substitute(names, columns=columns, journeys=source, touches=touches)
            wh.command(sql, {**params, "converted": converted}, _JOIN_SETTINGS)
    finally:
        wh.command(truncate(d, ATTRIBUTION_PEOPLE))
    counted = wh.rows(
        f"SELECT uniqExactIf(journey_id, converted = 1), countIf(converted = 1) FROM {names['attribution_touches']} "
        "WHERE run_id = {run_id:String}",
        {"run_id": run_id},
    )
    return int(counted[0][0]), int(counted[0][1])


def fill_people(wh: Warehouse, graph: GraphConfig, chunk_rows: int = 100_000) -> int:
    """Write the identity graph as it stands now into ``attribution_people``: every identifier's own person id
    mapped to its person's id (``IdentityGraph.aliases``), under the gateway's guards (shared identifiers, the
    edge window). Only the graph passes through Python, never the events. Returns the rows written."""
    d = dialect_for(wh)
    wh.command(truncate(d, ATTRIBUTION_PEOPLE))
    table, columns = d.qualified(ATTRIBUTION_PEOPLE.name), [name for name, _ in ATTRIBUTION_PEOPLE.columns]
    written = 0
    rows: list[tuple[str, str]] = []
    for alias, person in load_graph(wh, graph).aliases():
        rows.append((alias, person))
        if len(rows) >= chunk_rows:
            written += wh.insert(table, rows, columns)
            rows = []
    if rows:
        written += wh.insert(table, rows, columns)
    return written


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
