"""The relay's outcomes in the warehouse: sent and dead events copied from the ledger to ``ga4_deliveries``."""

from __future__ import annotations

from datetime import UTC, datetime

from warehouse import GA4_DELIVERY_COLUMNS, Warehouse

from .ledger import Ledger

__all__ = ["report"]


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def report(ledger: Ledger, wh: Warehouse) -> int:
    """Copy the final outcomes not reported yet; returns the rows written (the table collapses a repeat)."""
    reports, delivery_ids, letter_ids = ledger.unreported()
    if not reports:
        return 0
    rows = [
        (r.delivery_id, r.event_id, r.event_name, _moment(r.event_time), r.state, r.reason, min(r.attempts, 65535),
         min(r.ambiguous, 65535), r.http_status, _moment(r.created), _moment(r.finished))
        for r in reports
    ]  # fmt: skip
    wh.insert("ga4_deliveries", rows, [name for name, _ in GA4_DELIVERY_COLUMNS])
    ledger.mark_reported(delivery_ids, letter_ids)
    return len(rows)
