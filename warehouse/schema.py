"""The warehouse schema as versioned migrations, rendered for a single node or a cluster.

A table is declared once (columns, engine family, order, partition, TTL) and
rendered by ``Dialect``: on a single node as a plain ``MergeTree``-family table;
with a cluster name as a ``Replicated*`` table ``<name>_local`` created
``ON CLUSTER`` plus a ``Distributed`` table ``<name>`` over it, so that every
query and insert keeps using the plain name.

Migrations only ever append: a released migration is never edited, a new one is
added. Each statement is idempotent (``IF NOT EXISTS``) so a run interrupted
half-way can simply run again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from .attribution_schema import (
    ATTRIBUTION_TABLES,
    attribution_tables,
    attribution_views,
    people_and_channel_groups,
    person_key_view,
)
from .consent_schema import CONSENT_EVENTS, consent_events
from .ddl import Dialect, Table
from .erasure_schema import erasure_audit
from .identity_schema import IDENTITY_EDGES, identity_edges
from .verdicts import FINAL_EVENTS, final_verdict_views

__all__ = ["EVENT_COLUMNS", "GA4_DELIVERY_COLUMNS", "MIGRATIONS", "Migration"]


@dataclass(frozen=True)
class Migration:
    """One schema version: a number, a name and the statements that bring the schema to it."""

    version: int
    name: str
    build: Callable[[Dialect], list[str]] = field(repr=False)

    def statements(self, dialect: Dialect) -> list[str]:
        return self.build(dialect)

    def checksum(self, dialect: Dialect) -> str:
        return hashlib.sha256("\n;\n".join(self.statements(dialect)).encode()).hexdigest()[:16]


MIGRATIONS_TABLE = Table(
    name="schema_migrations",
    columns=(
        ("version", "UInt32"),
        ("name", "String"),
        ("checksum", "String"),
        ("applied_at", "DateTime64(3, 'UTC')"),
    ),
    engine="ReplacingMergeTree",
    order_by="version",
)

EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "String"),
    ("event_time", "DateTime64(3, 'UTC')"),
    ("received_at", "DateTime64(3, 'UTC')"),
    ("event_name", "LowCardinality(String)"),
    ("source", "LowCardinality(String)"),  # open, click, server, mp, conversion
    ("campaign_id", "String"),
    ("variant", "LowCardinality(String)"),
    ("link_id", "String"),
    ("recipient", "String"),  # the sender's opaque subscriber key or a keyed pseudonym, never an email
    ("person_id", "String"),
    ("ga_client_id", "String"),
    ("user_id", "String"),
    ("session_id", "String"),
    ("verdict", "LowCardinality(String)"),  # human, apple_mpp, image_proxy, scanner, prefetch, unknown
    ("verdict_reasons", "Array(LowCardinality(String))"),
    ("consent", "Map(LowCardinality(String), LowCardinality(String))"),
    ("ip_truncated", "String"),
    ("user_agent", "String"),
    ("url", "String"),
    ("value", "Decimal(18, 6)"),
    ("currency", "LowCardinality(String)"),
    ("transaction_id", "String"),
    ("params", "Map(String, String)"),
)

EVENTS = Table(
    name="events",
    columns=EVENT_COLUMNS,
    # Duplicates share every sorting-key column (an event id always carries the same
    # campaign, name and time), so background merges collapse any that slip past the
    # insert deduplication tokens; exact queries use FINAL or count distinct event ids.
    engine="ReplacingMergeTree",
    order_by="(campaign_id, event_name, event_time, event_id)",
    partition_by="toYYYYMM(event_time)",
    ttl_column="event_time",
    shard_key="cityHash64(event_id)",
    settings=(("deduplication_window", "10000"),),
)


# Imported here, not at the top: the attribution DDL builds on Table and Dialect defined above.


def _initial(d: Dialect) -> list[str]:
    return d.create(EVENTS)


# A person is behind a hit when the verdict says human or an image proxy fetching as they open.
_PEOPLE = "verdict IN ('human', 'image_proxy')"


def _engagement_views(d: Dialect) -> list[str]:
    """Raw and human counts. A later human event of a recipient upgrades their earlier machine opens:
    whoever clicked (as a person) or opened as a person counts as a human opener of that email."""
    per_recipient, per_campaign = _engagement_selects(f"{d.qualified('events')} FINAL")
    return d.create_view("email_engagement", per_recipient) + d.create_view("campaign_engagement", per_campaign)


def _engagement_selects(events: str) -> tuple[str, str]:
    """The engagement views' queries over ``events`` (a relation: the table with FINAL, or ``events_final``)."""
    per_recipient = f"""SELECT
    campaign_id,
    variant,
    recipient,
    countIf(source = 'open') AS opens_raw,
    countIf(source = 'open' AND {_PEOPLE}) AS opens_human,
    countIf(source = 'click') AS clicks_raw,
    countIf(source = 'click' AND {_PEOPLE}) AS clicks_human,
    minIf(event_time, source = 'open') AS first_open_at,
    minIf(event_time, {_PEOPLE}) AS first_human_at,
    countIf({_PEOPLE}) > 0 AS opened_human,
    groupUniqArrayIf(verdict, NOT {_PEOPLE}) AS machine_verdicts
FROM {events}
WHERE source IN ('open', 'click') AND recipient != ''
GROUP BY campaign_id, variant, recipient"""
    per_campaign = f"""SELECT
    campaign_id,
    countIf(source = 'open') AS opens_raw,
    countIf(source = 'open' AND {_PEOPLE}) AS opens_human,
    countIf(source = 'click') AS clicks_raw,
    countIf(source = 'click' AND {_PEOPLE}) AS clicks_human,
    uniqExactIf(recipient, source = 'open' AND recipient != '') AS openers_raw,
    uniqExactIf(recipient, {_PEOPLE} AND recipient != '') AS openers_human,
    uniqExactIf(recipient, source = 'click' AND recipient != '') AS clickers_raw,
    uniqExactIf(recipient, source = 'click' AND {_PEOPLE} AND recipient != '') AS clickers_human,
    countIf(source = 'open' AND verdict = 'apple_mpp') AS opens_apple_mpp,
    countIf(verdict IN ('scanner', 'prefetch')) AS hits_scanner
FROM {events}
WHERE source IN ('open', 'click')
GROUP BY campaign_id"""
    return per_recipient, per_campaign


def _final_verdicts(d: Dialect) -> list[str]:
    """Revisions of verdicts (see ``verdicts.py``): the views that apply them, and the views that count people
    or attribute credit read the final verdict from ``events_final`` instead of the row's first verdict."""
    final = d.qualified(FINAL_EVENTS)
    per_recipient, per_campaign = _engagement_selects(final)
    return (
        final_verdict_views(d)
        + d.replace_view("email_engagement", per_recipient)
        + d.replace_view("campaign_engagement", per_campaign)
        + d.replace_view("attribution_events", person_key_view(d, f"{final} AS e"))
    )


GA4_DELIVERY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("delivery_id", "String"),  # the ledger's deterministic id of the MP request
    ("event_id", "String"),  # the event of ``events`` it carried
    ("event_name", "LowCardinality(String)"),  # the first MP event name it became (email_click, purchase...)
    ("event_time", "DateTime64(3, 'UTC')"),
    ("state", "LowCardinality(String)"),  # sent or dead
    ("reason", "LowCardinality(String)"),  # for dead: invalid, expired, rejected
    ("attempts", "UInt16"),
    ("ambiguous_attempts", "UInt16"),  # attempts that may have arrived although no 2xx came back
    ("http_status", "UInt16"),  # the last answer (0: none)
    ("queued_at", "DateTime64(3, 'UTC')"),
    ("finished_at", "DateTime64(3, 'UTC')"),  # when GA4 acknowledged it, or when it was given up
)

GA4_DELIVERIES = Table(
    name="ga4_deliveries",
    columns=GA4_DELIVERY_COLUMNS,
    # The ledger may report a row twice (a crash between the insert and its bookkeeping): same key, collapsed.
    engine="ReplacingMergeTree",
    order_by="(event_id, delivery_id, state)",
    partition_by="toYYYYMM(finished_at)",
    ttl_column="finished_at",
    shard_key="cityHash64(event_id)",
)


def _ga4_deliveries(d: Dialect) -> list[str]:
    return d.create(GA4_DELIVERIES)


# The identity and consent tables live in their own modules, which build on Table and Dialect above.
from .quarantine import EVENTS_QUARANTINE, events_quarantine  # noqa: E402

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events table", _initial),
    Migration(2, "email and campaign engagement views", _engagement_views),
    Migration(3, "GA4 deliveries", _ga4_deliveries),
    Migration(4, "identity_edges table", identity_edges),
    Migration(5, "consent_events table", consent_events),
    Migration(6, "attribution tables", attribution_tables),
    Migration(7, "attribution views: person keys, paths, credit by day, campaign and model", attribution_views),
    Migration(8, "erasure_audit table", erasure_audit),
    Migration(9, "events_quarantine table", events_quarantine),
    Migration(
        10, "final verdicts: revisions applied in events_final, read by engagement and attribution", _final_verdicts
    ),
    Migration(11, "person keys through the identity graph, GA4 default channel groups", people_and_channel_groups),
)

# erasure_audit is left out on purpose: it holds no personal data and is the record that erasures were done
# (see erasure_schema.py).
TTL_TABLES: tuple[Table, ...] = (EVENTS, GA4_DELIVERIES, IDENTITY_EDGES, CONSENT_EVENTS, EVENTS_QUARANTINE,
                                 *ATTRIBUTION_TABLES)  # fmt: skip
