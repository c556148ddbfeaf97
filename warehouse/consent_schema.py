"""DDL of the consent ledger: ``consent_events``, append-only.

One row per decision: the subject's pseudonym, the purpose, granted or denied, where it came from
(``api``, ``mp``, ``unsubscribe``, ``tcf``...), when it was given, the policy version shown and the
TCF string it was decoded from, if any. The in-memory snapshot is rebuilt from these rows; nothing
updates a row. Consent records age out with the retention setting like every table.
"""

from __future__ import annotations

from .ddl import Dialect, Table

__all__ = ["CONSENT_EVENTS", "consent_events"]

CONSENT_EVENTS: Table = Table(
    name="consent_events",
    columns=(
        ("event_time", "DateTime64(3, 'UTC')"),
        ("subject", "String"),
        ("purpose", "LowCardinality(String)"),
        ("granted", "Bool"),
        ("source", "LowCardinality(String)"),
        ("policy_version", "LowCardinality(String)"),
        ("tcf_string", "String"),
        ("event_id", "String"),
        ("recorded_at", "DateTime64(3, 'UTC')"),
    ),
    order_by="(subject, purpose, event_time, event_id)",
    partition_by="toYYYYMM(event_time)",
    ttl_column="event_time",
    shard_key="cityHash64(subject)",
)


def consent_events(d: Dialect) -> list[str]:
    return d.create(CONSENT_EVENTS)
