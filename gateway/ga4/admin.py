"""What an operator does with the ledger: ``ga4gw ga4 status`` and ``ga4gw ga4 replay``.

Both open the ledger file directly (SQLite in WAL mode lets a second process read and write it
beside the running gateway, whose relay picks replayed requests up within a second).
"""

from __future__ import annotations

import json
from typing import Any

from .batching import pack
from .ledger import Ledger, LedgerStatus
from .payloads import Outgoing
from .validate import DEFAULT_LIMITS, Limits

__all__ = ["REPLAYABLE", "as_json", "replay", "status_lines"]

REPLAYABLE = ("rejected", "invalid")  # expired letters are, by definition, outside the window


def replay(
    ledger: Ledger, *, now: float, reasons: tuple[str, ...] = REPLAYABLE, limits: Limits = DEFAULT_LIMITS
) -> int:
    """Queue again the dead letters still inside GA4's window; returns how many events were queued.

    The relay validates them again before sending: a letter that is still invalid comes back as a
    new dead letter. Each letter is replayed once (the new delivery's id includes its letter id).
    """
    letters = ledger.replayable(oldest=now - limits.max_age_seconds + 60, reasons=reasons)
    if not letters:
        return 0
    items = []
    for _, event_id, body, event_time in letters:
        common = {k: v for k, v in body.items() if k != "events"}
        items.append(Outgoing(event_id, event_time, common, tuple(body.get("events", ()))))
    deliveries = pack(items, limits=limits, generation=letters[0][0])
    index = {item.event_id: (len(item.events), item.event_time) for item in items}
    ledger.replay(deliveries, index, [letter[0] for letter in letters])
    return len(letters)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def status_lines(status: LedgerStatus, *, dry_run: bool, origin: str, outbox_waiting: int | None) -> list[str]:
    """The human-readable status; ``as_json`` gives the same as data."""
    lines = [
        "mode: DRY RUN: no GA4GW_GA4_MEASUREMENT_ID or GA4GW_GA4_API_SECRET; requests are validated and kept, not sent"
        if dry_run
        else f"mode: sending to {origin}",
        f"queue: {status.queued_deliveries} requests ({status.queued_events} MP events) waiting; "
        f"lag {_age(status.lag_seconds)}, oldest event {_age(status.oldest_event_age_seconds)} old",
    ]
    if outbox_waiting is not None:
        lines.append(f"outbox: {outbox_waiting} events not yet taken by the relay")
    lines.append("requests by state: " + ", ".join(f"{k} {v}" for k, v in status.deliveries.items()))
    lines.append("MP events by state: " + ", ".join(f"{k} {v}" for k, v in status.events.items()))
    dead = ", ".join(f"{k} {v}" for k, v in sorted(status.dead_letters.items())) or "none"
    lines.append(f"dead letters: {dead} ({status.replayable} replayable with `ga4gw ga4 replay`)")
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(status.skipped.items())) or "none"
    lines.append(f"not relayed: {skipped}")
    lines.append(f"possibly duplicated (sent after an attempt that may have arrived): {status.possible_duplicates}")
    if status.last_error:
        lines.append(f"last error: {status.last_error}")
    return lines


def as_json(status: LedgerStatus, *, dry_run: bool, outbox_waiting: int | None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(status.__dict__))
    data.update(dry_run=dry_run, outbox_waiting=outbox_waiting)
    return data
