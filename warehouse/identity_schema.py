"""DDL of the identity graph's store: ``identity_edges``, append-only.

One row per edge seen: two typed identifiers (pseudonyms or opaque ids, never a raw email, phone or
CRM id), where the edge came from and when. The resolver loads every row at start and adds new ones
as they arrive; nothing updates a row. Erasure deletes rows by identifier (``a_value``/``b_value``).
"""

from __future__ import annotations

from .ddl import Dialect, Table

__all__ = ["IDENTITY_EDGES", "identity_edges"]

IDENTITY_EDGES: Table = Table(
    name="identity_edges",
    columns=(
        ("edge_time", "DateTime64(3, 'UTC')"),
        ("a_kind", "LowCardinality(String)"),
        ("a_value", "String"),
        ("b_kind", "LowCardinality(String)"),
        ("b_value", "String"),
        ("source", "LowCardinality(String)"),
        ("recorded_at", "DateTime64(3, 'UTC')"),
    ),
    order_by="(edge_time, a_kind, a_value, b_kind, b_value)",
    partition_by="toYYYYMM(edge_time)",
    ttl_column="edge_time",
    shard_key="cityHash64(a_value)",
)


def identity_edges(d: Dialect) -> list[str]:
    return d.create(IDENTITY_EDGES)
