"""Erasure in the delivery ledger: a subject's events leave every delivery, dead letter and transaction id.

A delivery's request-level fields (``client_id``, ``user_id``, ``consent``) are shared by all its events, so when
one of them names the subject the whole delivery is theirs and is deleted, whatever its state. Otherwise only the
events that are theirs leave it (by warehouse event id, or naming one of their values in their own MP events): the
body, per-event index and counts are rewritten as the relay's own narrowing does, and a delivery left empty is
deleted. Dead letters go when they name the subject or carry one of their events; transaction ids go with their
events (a purchase sent again after the erasure would be relayed again: the price of forgetting it). ``skips``
holds counts and ``meta`` the intake's position: nothing about anybody.

A delivery in flight belongs to its sender until the answer comes: it is swept again every 50 ms until it lands
(sent, retried or dead, whose letters are then swept too) or ``wait`` runs out; what is still in flight then is
reported, not erased. The relay's intake and reporter must be held meanwhile (``Relay.hold``). Deleted rows are
overwritten on disk (``secure_delete``) and the write-ahead log is truncated afterwards when nothing reads it.

Values are matched as whole JSON strings (``"em_k1_..."``), so one id never matches inside another.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.stores.sqlite import connect

__all__ = ["LedgerErasure", "forget"]

_CHUNK = 400  # parameters per statement, well under SQLite's limit
_PREFIX = "ga4_ledger."


@dataclass
class LedgerErasure:
    """What left the ledger (``rows`` keyed ``ga4_ledger.<table>``), what was left in flight, the events it held."""

    rows: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    event_ids: set[str] = field(default_factory=set)

    def add(self, name: str, count: int) -> None:
        self.rows[_PREFIX + name] = self.rows.get(_PREFIX + name, 0) + count


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])


def _candidates(db: sqlite3.Connection, table: str, columns: str, text: str, key: str,
                needles: list[str], ids: list[str]) -> dict[Any, tuple[Any, ...]]:  # fmt: skip
    """Rows whose ``text`` column holds a needle or whose ``key`` column is one of ``ids``."""
    found: dict[Any, tuple[Any, ...]] = {}
    for chunk in _chunks(needles):
        where = " OR ".join([f"instr({text}, ?) > 0"] * len(chunk))
        found.update((r[0], r) for r in db.execute(f"SELECT {columns} FROM {table} WHERE {where}", chunk))
    for chunk in _chunks(ids):
        where = f"{key} IN ({','.join('?' * len(chunk))})"
        found.update((r[0], r) for r in db.execute(f"SELECT {columns} FROM {table} WHERE {where}", chunk))
    return found


def _names(value: object, needles: Iterable[str]) -> bool:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return any(n in text for n in needles)


def _deliveries(db: sqlite3.Connection, needles: list[str], event_ids: set[str], out: LedgerErasure) -> None:
    # Event ids appear in ``idx`` as JSON strings too.
    quoted = [json.dumps(e, ensure_ascii=False) for e in sorted(event_ids)]
    rows = _candidates(db, "deliveries", "id, body, idx, in_flight", "body || idx", "id", needles + quoted, [])
    for did, body_text, idx_text, in_flight in rows.values():
        body, idx = json.loads(body_text), json.loads(idx_text)
        common = {k: v for k, v in body.items() if k != "events"}
        whole = _names(common, needles)
        keep: list[tuple[list[Any], list[Any]]] = []
        theirs: list[str] = []
        offset = 0
        for entry in idx:
            events = body["events"][offset : offset + int(entry[1])]
            offset += int(entry[1])
            # entry[3:]: the consent check the relay keeps with an event (its subjects), when it has one
            if whole or entry[0] in event_ids or _names(events, needles) or _names(entry[3:], needles):
                theirs.append(str(entry[0]))
            else:
                keep.append((entry, events))
        if not theirs:
            continue
        if in_flight:
            out.in_flight += 1
            continue
        out.event_ids.update(theirs)
        if not keep:
            db.execute("DELETE FROM deliveries WHERE id = ?", (did,))
            out.add("deliveries", 1)
            continue
        text = json.dumps({**common, "events": [e for _, events in keep for e in events]}, ensure_ascii=False,
                          separators=(",", ":"))  # fmt: skip
        narrowed = [entry for entry, _ in keep]
        db.execute(
            "UPDATE deliveries SET body = ?, idx = ?, mp_events = ?, oldest = ? WHERE id = ?",
            (text, json.dumps(narrowed), sum(int(e[1]) for e in narrowed), min(float(e[2]) for e in narrowed), did),
        )
        out.add("deliveries_narrowed", 1)


def _letters(db: sqlite3.Connection, needles: list[str], event_ids: set[str], out: LedgerErasure) -> None:
    rows = _candidates(db, "dead_letters", "id, event_id, body", "body", "event_id", needles, sorted(event_ids))
    gone = [(lid,) for lid, event_id, body in rows.values() if event_id in event_ids or any(n in body for n in needles)]
    out.event_ids.update(str(rows[lid][1]) for (lid,) in gone)
    db.executemany("DELETE FROM dead_letters WHERE id = ?", gone)
    out.add("dead_letters", len(gone))


def _sweep(db: sqlite3.Connection, needles: list[str], event_ids: set[str], out: LedgerErasure,
           position: int | None) -> None:  # fmt: skip
    db.execute("BEGIN IMMEDIATE")
    try:
        out.in_flight = 0
        _deliveries(db, needles, event_ids | out.event_ids, out)
        _letters(db, needles, event_ids | out.event_ids, out)
        removed = 0
        for chunk in _chunks(sorted(event_ids | out.event_ids)):
            marks = ",".join("?" * len(chunk))
            removed += db.execute(f"DELETE FROM transactions WHERE event_id IN ({marks})", chunk).rowcount
        out.add("transactions", removed)
        if position is not None:  # the outbox moved past erased rows: the intake's position never lags it
            db.execute(
                "INSERT INTO meta VALUES ('position', ?) ON CONFLICT (key) DO UPDATE SET value = "
                "CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
                (str(position),),
            )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def forget(path: Path, *, values: Iterable[str], event_ids: Iterable[str], wait: float = 0.0,
           position: int | None = None) -> LedgerErasure:  # fmt: skip
    """Erase the subject (``values``: pseudonyms and client ids, never raw keys that could be any word; their
    known ``event_ids``) from the ledger at ``path``. ``position``: the outbox's ``ga4`` position after the
    outbox's own erasure."""
    out = LedgerErasure()
    for name in ("deliveries", "deliveries_narrowed", "dead_letters", "transactions"):
        out.add(name, 0)
    if not path.exists():
        return out
    needles = sorted({json.dumps(v, ensure_ascii=False) for v in values if v})
    ids = {e for e in event_ids if e}
    db = connect(path, "full")
    try:
        db.execute("PRAGMA secure_delete = ON")
        deadline = time.monotonic() + wait
        while True:
            _sweep(db, needles, ids, out, position)
            if not out.in_flight or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return out
