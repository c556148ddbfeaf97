"""Warehouse tables and views of attribution: who a person is, journeys, credits, channel values, runs.

The person key of an event is derived in exactly one place, the view ``attribution_events``
(``person_key`` column). Until the identity graph fills ``events.person_id`` it falls back, in order,
to: the email pseudonym in ``params['email_pseudonym']``; the recipient; for an event that carries only a
GA client id, the key of the first email click seen with that client id; the GA client id itself. To move
to the graph, a later migration replaces this view; nothing else changes.
"""

from __future__ import annotations

from .ddl import Dialect, Table

__all__ = [
    "ATTRIBUTION_CHANNEL_VALUES",
    "ATTRIBUTION_CREDITS",
    "ATTRIBUTION_RUNS",
    "ATTRIBUTION_TABLES",
    "ATTRIBUTION_TOUCHES",
    "any_rows",
    "attribution_tables",
    "attribution_views",
    "delete_rows",
    "person_key_view",
]

_TIME = "DateTime64(3, 'UTC')"

# One row per touch of a journey; a journey is a conversion (converted = 1) or a person's touches after their
# latest conversion (converted = 0, conversion_time = the run's end). A conversion with no touch has
# one row of touch_kind 'none' and channel '(none)', so every conversion's credits still sum to one.
ATTRIBUTION_TOUCHES = Table(
    name="attribution_touches",
    columns=(
        ("journey_id", "String"),
        ("converted", "UInt8"),
        ("person_key", "String"),
        ("conversion_time", _TIME),
        ("conversion_event", "LowCardinality(String)"),
        ("transaction_id", "String"),
        ("revenue", "Decimal(18, 6)"),
        ("currency", "LowCardinality(String)"),
        ("touch_index", "UInt16"),
        ("touch_count", "UInt16"),
        ("touch_time", _TIME),
        ("touch_kind", "LowCardinality(String)"),  # click, open, visit, none
        ("touch_event_id", "String"),
        ("channel", "LowCardinality(String)"),
        ("campaign_id", "String"),
        ("variant", "LowCardinality(String)"),
        ("weight", "Float64"),
        ("run_id", "String"),
    ),
    order_by="(conversion_time, journey_id, touch_index)",
    partition_by="toYYYYMM(conversion_time)",
    ttl_column="conversion_time",
    shard_key="cityHash64(journey_id)",
)

ATTRIBUTION_CREDITS = Table(
    name="attribution_credits",
    columns=(
        ("conversion_id", "String"),
        ("conversion_time", _TIME),
        ("conversion_event", "LowCardinality(String)"),
        ("person_key", "String"),
        ("model", "LowCardinality(String)"),
        ("touch_index", "UInt16"),
        ("touch_time", _TIME),
        ("touch_kind", "LowCardinality(String)"),
        ("touch_event_id", "String"),  # the event behind the touch ('' for a conversion without touches)
        ("channel", "LowCardinality(String)"),
        ("campaign_id", "String"),
        ("variant", "LowCardinality(String)"),
        ("credit", "Float64"),  # share of the conversion, 0..1; a conversion's shares sum to 1
        ("revenue", "Decimal(18, 6)"),  # credited revenue; a conversion's rows sum exactly to its revenue
        ("currency", "LowCardinality(String)"),
        ("run_id", "String"),
    ),
    order_by="(model, conversion_time, conversion_id, touch_index)",
    partition_by="toYYYYMM(conversion_time)",
    ttl_column="conversion_time",
    shard_key="cityHash64(conversion_id)",
)

# What the data-driven models learned per channel over the fit window: Markov removal effects, Shapley values
# (error: 0, both are exact), and how many journeys the model learned from.
ATTRIBUTION_CHANNEL_VALUES = Table(
    name="attribution_channel_values",
    columns=(
        ("run_id", "String"),
        ("run_at", _TIME),
        ("model", "LowCardinality(String)"),
        ("channel", "String"),
        ("value", "Float64"),
        ("error", "Float64"),
        ("journeys", "UInt64"),
    ),
    order_by="(model, run_at, channel)",
    ttl_column="run_at",
)

ATTRIBUTION_RUNS = Table(
    name="attribution_runs",
    columns=(
        ("run_id", "String"),
        ("started_at", _TIME),
        ("finished_at", _TIME),
        ("since", _TIME),
        ("until", _TIME),
        ("models", "Array(LowCardinality(String))"),
        ("conversions", "UInt64"),
        ("touches", "UInt64"),
    ),
    order_by="(started_at, run_id)",
    ttl_column="started_at",
)

ATTRIBUTION_TABLES: tuple[Table, ...] = (
    ATTRIBUTION_TOUCHES,
    ATTRIBUTION_CREDITS,
    ATTRIBUTION_CHANNEL_VALUES,
    ATTRIBUTION_RUNS,
)


def attribution_tables(d: Dialect) -> list[str]:
    return [statement for table in ATTRIBUTION_TABLES for statement in d.create(table)]


def person_key_view(d: Dialect, relation: str = "") -> str:
    """``attribution_events``: every column of ``relation`` (default ``events`` with FINAL; from migration 10
    ``events_final``, which carries the final verdicts) aliased ``e``, plus the person key."""
    events = d.qualified("events")
    relation = relation or f"{events} AS e FINAL"
    # The key an email click gives its person, used for events that only share the click's GA client id.
    click_key = "if(params['email_pseudonym'] != '', params['email_pseudonym'], recipient)"
    return f"""SELECT
    e.*,
    multiIf(
        e.person_id != '', e.person_id,
        e.params['email_pseudonym'] != '', e.params['email_pseudonym'],
        e.recipient != '', e.recipient,
        clicks.click_key != '', clicks.click_key,
        e.ga_client_id
    ) AS person_key
FROM {relation}
LEFT JOIN (
    SELECT ga_client_id, argMin({click_key}, event_time) AS click_key
    FROM {events} FINAL
    WHERE source = 'click' AND ga_client_id != '' AND {click_key} != ''
    GROUP BY ga_client_id
) AS clicks ON e.ga_client_id = clicks.ga_client_id"""


def attribution_views(d: Dialect) -> list[str]:
    touches = d.qualified("attribution_touches")
    credits = d.qualified("attribution_credits")
    paths = f"""SELECT
    journey_id,
    any(converted) AS converted,
    any(person_key) AS person_key,
    any(conversion_time) AS conversion_time,
    any(conversion_event) AS conversion_event,
    any(transaction_id) AS transaction_id,
    any(revenue) AS revenue,
    any(currency) AS currency,
    count() AS touches,
    arrayStringConcat(arrayMap(t -> t.2, arraySort(groupArray((touch_index, channel)))), ' > ') AS path,
    arrayMap(t -> t.2, arraySort(groupArray((touch_index, touch_kind)))) AS kinds,
    arrayMap(t -> t.2, arraySort(groupArray((touch_index, campaign_id)))) AS campaigns,
    arrayMap(t -> t.2, arraySort(groupArray((touch_index, touch_time)))) AS times,
    arrayMap(t -> t.2, arraySort(groupArray((touch_index, touch_event_id)))) AS event_ids
FROM {touches}
GROUP BY journey_id"""
    daily = f"""SELECT
    toDate(conversion_time) AS day, model, channel, campaign_id, variant, currency,
    sum(credit) AS conversions, sum(revenue) AS revenue
FROM {credits}
GROUP BY day, model, channel, campaign_id, variant, currency"""
    by_campaign = f"""SELECT
    model, campaign_id, variant, currency, sum(credit) AS conversions, sum(revenue) AS revenue
FROM {credits}
WHERE touch_kind IN ('click', 'open')
GROUP BY model, campaign_id, variant, currency"""
    by_model = f"""SELECT
    model, channel, currency, sum(credit) AS conversions, sum(revenue) AS revenue, uniqExact(conversion_id) AS touched
FROM {credits}
GROUP BY model, channel, currency"""
    return (
        d.create_view("attribution_events", person_key_view(d))
        + d.create_view("attribution_paths", paths)
        + d.create_view("attribution_daily", daily)
        + d.create_view("attribution_by_campaign", by_campaign)
        + d.create_view("attribution_by_model", by_model)
    )


def delete_rows(d: Dialect, table: Table, where: str) -> str:
    """A lightweight DELETE of the rows matching ``where`` (typed placeholders only) from ``table``'s parts."""
    return f"DELETE FROM {d.qualified(d.storage_name(table))}{d.on_cluster} WHERE {where}"


def any_rows(d: Dialect, table: Table, where: str) -> str:
    """A query answering 1 when some row matches ``where``: a DELETE that would find nothing is skipped, because
    even an empty lightweight delete visits every part of the table."""
    return f"SELECT count() FROM (SELECT 1 FROM {d.qualified(table.name)} WHERE {where} LIMIT 1)"
