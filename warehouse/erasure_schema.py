"""DDL of the erasure audit (``erasure_audit``, migration 8) and the statement that erases a subject's rows.

One audit row per erasure: when, by whom (the API token's subject or ``cli:<os user>``), an optional reason, how
many identifiers were erased and how many rows per table or store, and whether it completed. It holds no personal
data, not even a pseudonym: the counts say what was done, never to whom.

Why it has no TTL, unlike every other table: it is the controller's record that erasure requests were honoured
(GDPR art. 5(2), accountability), which must outlive the data it speaks of; ageing it out with the retention of
the events would delete the evidence together with the data. It holds nothing about a person, is written a few
times a year and can be trimmed by hand (``ALTER TABLE erasure_audit DELETE WHERE erased_at < ...``).

Erasing uses ``ALTER TABLE ... DELETE`` (a mutation) with ``mutations_sync = 2``, not a lightweight ``DELETE``: a
lightweight delete only masks rows until a later merge, while a mutation rewrites the parts that hold them, so when
the statement returns the data is gone from disk too (on a cluster: from every replica).
"""

from __future__ import annotations

from .schema import Dialect, Table

__all__ = ["ERASE_SETTINGS", "ERASURE_AUDIT", "erase_rows", "erasure_audit"]

ERASURE_AUDIT: Table = Table(
    name="erasure_audit",
    columns=(
        ("erased_at", "DateTime64(3, 'UTC')"),
        ("erasure_id", "String"),
        ("requested_by", "String"),
        ("reason", "String"),
        ("identifiers", "UInt32"),
        ("rows", "Map(String, UInt64)"),
        ("status", "LowCardinality(String)"),  # done, or partial (the answer says what is left)
    ),
    order_by="(erased_at, erasure_id)",
    shard_key="cityHash64(erasure_id)",
)

# Wait for the mutation on every replica before returning: the caller reports rows as gone.
ERASE_SETTINGS: dict[str, object] = {"mutations_sync": 2}


def erasure_audit(d: Dialect) -> list[str]:
    return d.create(ERASURE_AUDIT)


def erase_rows(d: Dialect, table: Table, where: str) -> str:
    """A mutation deleting the rows matching ``where`` (typed placeholders only) from ``table``'s parts."""
    return f"ALTER TABLE {d.qualified(d.storage_name(table))}{d.on_cluster} DELETE WHERE {where}"
