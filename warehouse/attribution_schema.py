"""Warehouse tables and views of attribution: who a person is, journeys, credits, channel values, runs.

The person key of an event is derived in exactly one place, the view ``attribution_events`` (``person_key``
column). Since migration 11 it follows the identity graph as it stands at the attribution run:

- every event stores ``person_id``, the person id of its own most specific identifier alone (``identity.
  person_id_of``; rows stored before have it computed here from the identifiers they carry, in the same order:
  user id, email pseudonym, recipient pseudonym, a recipient that is an email pseudonym, GA client id);
- a run loads the graph and fills ``attribution_people`` (``alias`` -> ``person_id``: every identifier's own id
  mapped to the id of the person it belongs to now), builds the journeys, and empties it again;
- ``person_key`` is that person; else the event's stored ``person_id`` (an identifier the graph does not know is
  a person of its own); else, for rows stored before migration 11 that the graph does not know, migration 7's
  rules: the email pseudonym, the recipient, the key of the first email click seen with the event's GA client
  id, the GA client id.

So an identification that arrives after a click or a purchase joins them at the next run, and data stored before
keeps the keys it had (joined to newer data wherever the graph knows its identifiers).
"""

from __future__ import annotations

from dataclasses import replace

from .ddl import Dialect, Table

__all__ = [
    "ATTRIBUTION_CHANNEL_VALUES",
    "ATTRIBUTION_CREDITS",
    "ATTRIBUTION_PEOPLE",
    "ATTRIBUTION_RUNS",
    "ATTRIBUTION_TABLES",
    "ATTRIBUTION_TOUCHES",
    "any_rows",
    "attribution_tables",
    "attribution_views",
    "delete_rows",
    "people_and_channel_groups",
    "person_key_view",
    "truncate",
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
        ("default_channel", "LowCardinality(String)"),  # GA4's default channel group (migration 11)
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
        ("default_channel", "LowCardinality(String)"),  # GA4's default channel group (migration 11)
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


# The identity graph at an attribution run: every identifier's own person id (``alias``) and the person it belongs
# to then. Filled at the start of a run's journey build and emptied at its end (see the module docstring), so it
# never outlives an erasure; no TTL.
ATTRIBUTION_PEOPLE = Table(
    name="attribution_people",
    columns=(("alias", "String"), ("person_id", "String")),
    order_by="alias",
    shard_key="cityHash64(alias)",
)

# Columns added after migration 6 created the tables: migration 6 keeps creating them without these (a released
# migration never changes), migration 11 adds them.
_ADDED_IN_11: dict[str, tuple[tuple[str, str], str]] = {
    "attribution_touches": (("default_channel", "LowCardinality(String)"), "channel"),
    "attribution_credits": (("default_channel", "LowCardinality(String)"), "channel"),
}


def attribution_tables(d: Dialect) -> list[str]:
    """Migration 6: the tables as they were first created."""
    statements = []
    for table in ATTRIBUTION_TABLES:
        added = _ADDED_IN_11.get(table.name)
        columns = tuple(c for c in table.columns if added is None or c != added[0])
        statements += d.create(replace(table, columns=columns))
    return statements


def truncate(d: Dialect, table: Table) -> str:
    """Empty ``table`` (its parts: the ``_local`` table on every node of a cluster)."""
    return f"TRUNCATE TABLE IF EXISTS {d.qualified(d.storage_name(table))}{d.on_cluster}"


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


# The person id of identifier text ``kind:value``, as ``identity.person_id_of`` computes it.
_PERSON_ID = "concat('p_', substring(lower(hex(SHA256({}))), 1, 20))"
_EMAIL_PSEUDONYM = "'^em_[A-Za-z0-9]+_[a-z2-7]{26}$'"


def _own_person_id() -> str:
    """An event's own person id: the stored one, else (rows stored before migration 11) the same computed from its
    identifiers in ``gateway.state.identity_link.identifiers_of``'s order. A raw recipient has no pseudonym here."""
    ids = [
        ("user_id != ''", "concat('user:', user_id)"),
        ("params['email_pseudonym'] != ''", "concat('email:', params['email_pseudonym'])"),
        ("params['recipient_pseudonym'] != ''", "concat('recipient:', params['recipient_pseudonym'])"),
        (f"match(recipient, {_EMAIL_PSEUDONYM})", "concat('email:', recipient)"),
        ("ga_client_id != ''", "concat('ga_client:', ga_client_id)"),
    ]
    arms = ", ".join(f"{when}, {_PERSON_ID.format(key)}" for when, key in ids)
    return f"multiIf(person_id != '', person_id, {arms}, '')"


def _person_key_view_11(d: Dialect) -> str:
    """``attribution_events`` from migration 11: ``events_final`` (migration 10: deduplicated, with every hit's final
    verdict after revisions) with the person key the identity graph gives at the run."""
    events, people = d.qualified("events"), d.qualified(ATTRIBUTION_PEOPLE.name)
    final = d.qualified("events_final")
    click_key = "if(params['email_pseudonym'] != '', params['email_pseudonym'], recipient)"
    return f"""SELECT
    e.* EXCEPT (own_person_id),
    multiIf(
        p.person_id != '', p.person_id,
        e.person_id != '', e.person_id,
        e.params['email_pseudonym'] != '', e.params['email_pseudonym'],
        e.recipient != '', e.recipient,
        clicks.click_key != '', clicks.click_key,
        e.ga_client_id
    ) AS person_key
FROM (SELECT *, {_own_person_id()} AS own_person_id FROM {final}) AS e
LEFT JOIN {people} AS p ON e.own_person_id = p.alias
LEFT JOIN (
    SELECT ga_client_id, argMin({click_key}, event_time) AS click_key
    FROM {events} FINAL
    WHERE source = 'click' AND person_id = '' AND ga_client_id != '' AND {click_key} != ''
    GROUP BY ga_client_id
) AS clicks ON e.ga_client_id = clicks.ga_client_id
SETTINGS join_use_nulls = 0"""


def _drop_view(d: Dialect, name: str) -> str:
    return f"DROP VIEW IF EXISTS {d.qualified(name)}{d.on_cluster}"


def people_and_channel_groups(d: Dialect) -> list[str]:
    """Migration 11: person keys through the identity graph, GA4's default channel group on touches and credits."""
    statements = d.create(ATTRIBUTION_PEOPLE)
    for name, (column, after) in _ADDED_IN_11.items():
        table = d.storage_name(next(t for t in ATTRIBUTION_TABLES if t.name == name))
        for target in dict.fromkeys((table, name)):
            statements.append(
                f"ALTER TABLE {d.qualified(target)}{d.on_cluster} "
                f"ADD COLUMN IF NOT EXISTS `{column[0]}` {column[1]} AFTER `{after}`"
            )
    paths = _paths(d).replace(
        "    arrayMap(t -> t.2, arraySort(groupArray((touch_index, touch_kind)))) AS kinds,",
        "    arrayStringConcat(arrayMap(t -> t.2, arraySort(groupArray((touch_index, default_channel)))), ' > ')"
        " AS default_path,\n    arrayMap(t -> t.2, arraySort(groupArray((touch_index, touch_kind)))) AS kinds,",
    )
    credits = d.qualified("attribution_credits")
    by_default_channel = f"""SELECT
    toDate(conversion_time) AS day, model, default_channel, currency,
    sum(credit) AS conversions, sum(revenue) AS revenue, uniqExact(conversion_id) AS touched
FROM {credits}
GROUP BY day, model, default_channel, currency"""
    statements.append(_drop_view(d, "attribution_events"))
    statements += d.create_view("attribution_events", _person_key_view_11(d))
    statements.append(_drop_view(d, "attribution_paths"))
    statements += d.create_view("attribution_paths", paths)
    statements += d.create_view("attribution_by_default_channel", by_default_channel)
    return statements


def _paths(d: Dialect) -> str:
    touches = d.qualified("attribution_touches")
    return f"""SELECT
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


def attribution_views(d: Dialect) -> list[str]:
    credits = d.qualified("attribution_credits")
    paths = _paths(d)
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
