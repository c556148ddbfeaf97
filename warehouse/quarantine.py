"""The dead-letter table of the events the warehouse refused (``events_quarantine``, migration 9).

An event whose row the warehouse cannot hold (a value past its column's range, a time it cannot read)
used to fail its whole batch on every attempt, so nothing after it was ever stored. The writer now sets
such a row apart (``EventWriter.write_isolating``) and it lands here, with the outbox payload as it was,
the warehouse's error code and name, and when: the rest flows on, and the row can be mended and inserted
again by hand (``INSERT INTO events FORMAT JSONCompactEachRow`` with the fixed payload).

The payload is stored as plain text, which any bytes fit, and it expires with the events' retention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .ddl import Dialect, Table

if TYPE_CHECKING:  # only annotations: importing it would load the ClickHouse driver
    from .client import Warehouse

__all__ = ["EVENTS_QUARANTINE", "Refused", "events_quarantine", "quarantine"]

_ERROR_CHARS = 2000
_PAYLOAD_CHARS = 1_000_000

EVENTS_QUARANTINE: Table = Table(
    name="events_quarantine",
    columns=(
        ("quarantined_at", "DateTime64(3, 'UTC')"),
        ("event_id", "String"),
        ("error_code", "Int32"),  # ClickHouse's error code (69: a number too large for its column...)
        ("error_name", "LowCardinality(String)"),
        ("error", "String"),  # the warehouse's message (it may quote the row: this table is as private as events)
        ("payload", "String"),  # the outbox record as it was (EventRow.to_json)
    ),
    order_by="(quarantined_at, event_id)",
    partition_by="toYYYYMM(quarantined_at)",
    ttl_column="quarantined_at",
    shard_key="cityHash64(event_id)",
)


@dataclass(frozen=True, slots=True)
class Refused:
    """One row the warehouse refused on its own, and why."""

    event_id: str
    payload: str
    code: int
    name: str
    error: str


def events_quarantine(d: Dialect) -> list[str]:
    return d.create(EVENTS_QUARANTINE)


def quarantine(wh: Warehouse, rows: Sequence[Refused], at: datetime) -> int:
    """Keep ``rows`` in ``events_quarantine``; returns how many. Typed values: nothing of the payload is parsed."""
    values = [(at, r.event_id, r.code, r.name, r.error[:_ERROR_CHARS], r.payload[:_PAYLOAD_CHARS]) for r in rows]
    settings = {"distributed_foreground_insert": 1} if wh.cluster else {}
    table = f"`{wh.database}`.`{EVENTS_QUARANTINE.name}`"
    return wh.insert(table, values, [name for name, _ in EVENTS_QUARANTINE.columns], settings)
