"""The GA4 delivery ledger: every request the relay will send, has sent or gave up on, in SQLite.

``<data_dir>/ga4_ledger.sqlite3`` (WAL). A delivery moves ``pending -> sent``, or through
``retrying`` (an ambiguous outcome: transport error, timeout, 429, 5xx) back to ``sent``, or to
``dead`` (expired, rejected, invalid), whose events become dead letters that ``ga4gw ga4 replay``
can send again while they are inside GA4's 72-hour window.

Why this never loses or doubles an event:
- Intake is one transaction: the deliveries, the dead letters, the purchases' transaction ids and
  the outbox position they came from commit together, so a crash re-reads exactly what was not
  taken (and the outbox position may lag this one, never lead it).
- Delivery ids are deterministic and the primary key: the same request can never be queued twice.
- What must never outlive the send (``payloads.PRIVATE_FIELDS``: MP ``user_data``, the full ``ip_override``)
  leaves a delivery's body when it is sent or dead, and is never written into a dead letter; deleted bytes
  are overwritten (``secure_delete``).
- A 2xx is recorded the moment it arrives, before anything else is sent; a delivery in state
  ``sent`` is never selected again, across restarts too. A request in flight when the process died
  is counted as ambiguous (it may have arrived) and sent again: at most one extra copy, counted.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from gateway.stores.sqlite import connect

from .batching import Delivery
from .payloads import PRIVATE_FIELDS
from .records import DeadLetter, Due, LedgerStatus, Report

__all__ = ["DeadLetter", "Due", "Ledger", "LedgerStatus", "Report"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,               -- pending, retrying, sent, dead
    body TEXT NOT NULL,
    idx TEXT NOT NULL,                 -- JSON [[event_id, mp events, event time, consent?], ...] in body order
    mp_events INTEGER NOT NULL,
    oldest REAL NOT NULL,              -- epoch seconds of the oldest event
    created REAL NOT NULL,
    next_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    ambiguous INTEGER NOT NULL DEFAULT 0,  -- attempts that may have arrived although no 2xx came back
    in_flight INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    finished REAL,
    reason TEXT NOT NULL DEFAULT '',
    reported INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS deliveries_unreported ON deliveries (reported, state);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    reason TEXT NOT NULL,              -- invalid, expired, rejected
    messages TEXT NOT NULL,            -- JSON validation messages or the HTTP answer
    body TEXT NOT NULL,                -- the event alone as a request body
    event_time REAL NOT NULL,
    created REAL NOT NULL,
    replayed REAL,
    reported INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS transactions (transaction_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS skips (reason TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_WAITING = ("pending", "retrying")
# A finished delivery's body without the private fields; instr() first, so bodies without them cost nothing.
_WITHOUT_PRIVATE = (
    "CASE WHEN "
    + " OR ".join(f"instr(body, '\"{f}\"') > 0" for f in PRIVATE_FIELDS)
    + " THEN json_remove(body, "
    + ", ".join(f"'$.{f}'" for f in PRIVATE_FIELDS)
    + ") ELSE body END"
)


class Ledger:
    """The ledger. Use it from one thread (the relay's); the CLI opens its own for status and replay."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.clock = clock
        # Intake must survive power loss (the outbox forgets what the ledger took); a state change
        # after a send survives a process crash without an fsync of its own (WAL), and losing one
        # to a power cut can only re-send, never lose.
        self._db = connect(path, "full")
        self._db.executescript(_SCHEMA)
        self._fast = connect(path, "normal")
        for conn in (self._db, self._fast):  # private fields removed from a body are overwritten, not freed
            conn.execute("PRAGMA secure_delete = ON")

    def close(self) -> None:
        self._db.close()
        self._fast.close()

    def _tx(self, conn: sqlite3.Connection | None = None) -> _Transaction:
        return _Transaction(conn or self._db)

    # Intake ----------------------------------------------------------------------------------

    def position(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'position'").fetchone()
        return int(row[0]) if row else 0

    def known_transactions(self, transaction_ids: Iterable[str]) -> set[str]:
        ids = list(set(transaction_ids))
        known: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT transaction_id FROM transactions WHERE transaction_id IN ({marks})"
            known.update(row[0] for row in self._db.execute(query, chunk))
        return known

    def take(
        self,
        deliveries: Sequence[Delivery],
        *,
        index: dict[str, tuple[Any, ...]],
        dead: Sequence[DeadLetter] = (),
        skipped: Counter[str] | None = None,
        transactions: Sequence[tuple[str, str]] = (),
        position: int | None = None,
    ) -> None:
        """Commit one intake batch at once; ``index`` maps an event id to (its MP events, its time)."""
        now = self.clock()
        with self._tx() as db:
            self._queue(db, deliveries, index, now)
            self._dead(db, dead, now)
            db.executemany("INSERT OR IGNORE INTO transactions VALUES (?, ?, ?)", [(*t, now) for t in transactions])
            for reason, count in (skipped or Counter()).items():
                self._skip(db, reason, count)
            if position is not None:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('position', ?)", (str(position),))

    @staticmethod
    def _skip(db: sqlite3.Connection, reason: str, count: int) -> None:
        sql = "INSERT INTO skips VALUES (?, ?) ON CONFLICT (reason) DO UPDATE SET count = count + ?"
        db.execute(sql, (reason, count, count))

    def skip(self, reason: str, count: int) -> None:
        """Count events that will not be sent (without keeping them: e.g. their consent was withdrawn)."""
        with self._tx() as db:
            self._skip(db, reason, count)

    @staticmethod
    def _queue(db: sqlite3.Connection, deliveries: Sequence[Delivery], index: dict[str, tuple[Any, ...]],
               now: float) -> None:  # fmt: skip
        """New deliveries, pending now; one already known (same id: same events) is left as it is."""
        db.executemany(
            "INSERT OR IGNORE INTO deliveries (id, state, body, idx, mp_events, oldest, created, next_at) "
            "VALUES (?, 'pending', ?, ?, ?, ?, ?, ?)",
            [(d.id, d.body, json.dumps([[e, *index[e]] for e in d.event_ids]), d.mp_events, d.oldest, now, now)
             for d in deliveries],
        )  # fmt: skip

    @staticmethod
    def _dead(db: sqlite3.Connection, dead: Sequence[DeadLetter], now: float) -> None:
        db.executemany(
            "INSERT INTO dead_letters (event_id, delivery_id, reason, messages, body, event_time, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(d.event_id, d.delivery_id, d.reason, json.dumps(d.messages), json.dumps(_public(d.body)), d.event_time,
              now) for d in dead],
        )  # fmt: skip

    # Sending ---------------------------------------------------------------------------------

    def recover(self) -> int:
        """At start: requests that were in flight when the process stopped may have arrived. Count them."""
        with self._tx() as db:
            return db.execute(
                "UPDATE deliveries SET in_flight = 0, ambiguous = ambiguous + 1, state = 'retrying' "
                "WHERE in_flight = 1 AND state IN ('pending', 'retrying')"
            ).rowcount

    def next_due(self) -> float | None:
        row = self._db.execute(
            "SELECT min(next_at) FROM deliveries WHERE state IN ('pending', 'retrying') AND in_flight = 0"
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def claim(self, limit: int) -> list[Due]:
        """Take up to ``limit`` due deliveries, oldest first, and mark them in flight (one transaction)."""
        now = self.clock()
        with self._tx(self._fast) as db:  # losing an in-flight mark to a power cut only hides an ambiguity
            rows = db.execute(
                "SELECT id, body, idx, oldest, attempts FROM deliveries "
                "WHERE state IN ('pending', 'retrying') AND in_flight = 0 AND next_at <= ? "
                "ORDER BY next_at LIMIT ?",
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE deliveries SET in_flight = 1, attempts = attempts + 1 WHERE id = ?", [(r[0],) for r in rows]
            )
        return [Due(r[0], r[1], json.loads(r[2]), r[3], r[4] + 1) for r in rows]

    def sent(self, delivery_id: str, status: int) -> None:
        self._fast.execute(
            "UPDATE deliveries SET state = 'sent', in_flight = 0, last_status = ?, last_error = '', finished = ?, "
            f"body = {_WITHOUT_PRIVATE} WHERE id = ?",
            (status, self.clock(), delivery_id),
        )

    def retry(self, delivery_id: str, *, after: float, status: int, error: str, ambiguous: bool) -> None:
        self._fast.execute(
            "UPDATE deliveries SET state = 'retrying', in_flight = 0, next_at = ?, last_status = ?, last_error = ?, "
            "ambiguous = ambiguous + ? WHERE id = ?",
            (self.clock() + after, status, error, int(ambiguous), delivery_id),
        )

    def kill(self, due: Due, reason: str, letters: Sequence[DeadLetter], status: int = 0, error: str = "") -> None:
        """The delivery is dead; its events become dead letters (given, one per event)."""
        now = self.clock()
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET state = 'dead', in_flight = 0, reason = ?, last_status = ?, last_error = ?, "
                f"finished = ?, body = {_WITHOUT_PRIVATE} WHERE id = ?",
                (reason, status, error, now, due.id),
            )
            self._dead(db, letters, now)

    def rewrite(self, due: Due, body: str, idx: list[list[Any]], oldest: float, letters: Sequence[DeadLetter]) -> None:
        """Keep the same delivery with what is left of it; ``letters`` (the rest) become dead letters."""
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET body = ?, idx = ?, oldest = ?, mp_events = ? WHERE id = ?",
                (body, json.dumps(idx), oldest, sum(int(i[1]) for i in idx), due.id),
            )
            self._dead(db, letters, self.clock())

    def queued(self) -> int:
        """Requests waiting to be sent (pending or retrying)."""
        return int(
            self._db.execute("SELECT count() FROM deliveries WHERE state IN ('pending', 'retrying')").fetchone()[0]
        )

    # Replay ----------------------------------------------------------------------------------

    def replayable(self, *, oldest: float, reasons: Iterable[str]) -> list[tuple[int, str, dict[str, Any], float]]:
        """Dead letters not replayed yet, of ``reasons``, whose event is newer than ``oldest``."""
        reasons = list(reasons)
        marks = ",".join("?" * len(reasons))
        rows = self._db.execute(
            f"SELECT id, event_id, body, event_time FROM dead_letters WHERE replayed IS NULL "
            f"AND event_time > ? AND reason IN ({marks}) ORDER BY id",
            (oldest, *reasons),
        )
        return [(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    def replay(self, deliveries: Sequence[Delivery], index: dict[str, tuple[Any, ...]], letters: list[int]) -> None:
        """Queue ``deliveries`` made of dead letters and mark those letters replayed, atomically."""
        now = self.clock()
        with self._tx() as db:
            self._queue(db, deliveries, index, now)
            db.executemany("UPDATE dead_letters SET replayed = ? WHERE id = ?", [(now, i) for i in letters])

    # Reporting and housekeeping --------------------------------------------------------------

    def unreported(self, limit: int = 5000) -> tuple[list[Report], list[str], list[int]]:
        """Final outcomes not yet in the warehouse: per-event rows, and the ids to mark afterwards."""
        reports: list[Report] = []
        rows = self._db.execute(
            "SELECT id, state, idx, attempts, ambiguous, last_status, created, finished, reason, body FROM deliveries "
            "WHERE reported = 0 AND state = 'sent' LIMIT ?",
            (limit,),
        ).fetchall()
        for did, state, idx, attempts, ambiguous, status, created, finished, reason, body in rows:
            names = [e.get("name", "") for e in json.loads(body).get("events", [])]
            offset = 0
            for event_id, count, event_time, *_ in json.loads(idx):
                name = names[offset] if offset < len(names) else ""
                offset += int(count)
                reports.append(Report(did, event_id, name, event_time, state, reason, attempts, ambiguous, status,
                                      created, finished or created))  # fmt: skip
        letters = self._db.execute(
            "SELECT d.id, d.event_id, d.delivery_id, d.reason, d.body, d.event_time, d.created, "
            "coalesce(x.attempts, 0), coalesce(x.ambiguous, 0), coalesce(x.last_status, 0), coalesce(x.created, 0) "
            "FROM dead_letters d LEFT JOIN deliveries x ON x.id = d.delivery_id WHERE d.reported = 0 LIMIT ?",
            (limit,),
        ).fetchall()
        for _, event_id, did, reason, body, event_time, created, attempts, ambiguous, status, queued in letters:
            events = json.loads(body).get("events", [{}])
            name = events[0].get("name", "") if events else ""
            reports.append(Report(did, event_id, name, event_time, "dead", reason, attempts, ambiguous, status,
                                  queued or created, created))  # fmt: skip
        return reports, [r[0] for r in rows], [r[0] for r in letters]

    def mark_reported(self, delivery_ids: Sequence[str], letter_ids: Sequence[int]) -> None:
        with self._tx() as db:
            db.executemany("UPDATE deliveries SET reported = 1 WHERE id = ?", [(i,) for i in delivery_ids])
            db.executemany("UPDATE dead_letters SET reported = 1 WHERE id = ?", [(i,) for i in letter_ids])
            # dead deliveries are reported through their letters
            db.execute("UPDATE deliveries SET reported = 1 WHERE state = 'dead' AND reported = 0")

    def prune(self, before: float) -> int:
        """Forget finished deliveries, dead letters and transaction ids older than ``before``."""
        with self._tx() as db:
            n = db.execute(
                "DELETE FROM deliveries WHERE state IN ('sent', 'dead') AND reported = 1 AND finished < ?", (before,)
            ).rowcount
            n += db.execute("DELETE FROM dead_letters WHERE reported = 1 AND created < ?", (before,)).rowcount
            n += db.execute("DELETE FROM transactions WHERE at < ?", (before,)).rowcount
        return n

    def status(self, *, max_age: float) -> LedgerStatus:
        """One consistent picture: every count and the position come from the same read transaction (otherwise
        a batch committed between two reads could show its position taken and its deliveries not yet there)."""
        self._db.execute("BEGIN")
        try:
            return self._status(max_age)
        finally:
            self._db.execute("COMMIT")

    def _status(self, max_age: float) -> LedgerStatus:
        now = self.clock()
        db = self._db
        deliveries = dict.fromkeys(("pending", "retrying", "sent", "dead"), 0)
        events = dict(deliveries)
        for state, count, mp_events in db.execute("SELECT state, count(), sum(mp_events) FROM deliveries GROUP BY 1"):
            deliveries[state] = count
            events[state] = mp_events or 0
        created, oldest = db.execute(
            "SELECT min(created), min(oldest) FROM deliveries WHERE state IN ('pending', 'retrying')"
        ).fetchone()
        dead = dict(db.execute("SELECT reason, count() FROM dead_letters WHERE replayed IS NULL GROUP BY 1"))
        replayable = db.execute(
            "SELECT count() FROM dead_letters WHERE replayed IS NULL AND reason != 'expired' AND event_time > ?",
            (now - max_age,),
        ).fetchone()[0]
        last_error = db.execute(
            "SELECT last_error FROM deliveries WHERE state = 'retrying' AND last_error != '' "
            "ORDER BY next_at DESC LIMIT 1"
        ).fetchone()
        return LedgerStatus(
            deliveries=deliveries,
            events=events,
            queued_deliveries=deliveries["pending"] + deliveries["retrying"],
            queued_events=events["pending"] + events["retrying"],
            lag_seconds=now - created if created else 0.0,
            oldest_event_age_seconds=now - oldest if oldest else 0.0,
            dead_letters=dead,
            replayable=replayable,
            skipped=dict(db.execute("SELECT reason, count FROM skips")),
            possible_duplicates=db.execute(
                "SELECT count() FROM deliveries WHERE state = 'sent' AND ambiguous > 0"
            ).fetchone()[0],
            last_error=last_error[0] if last_error else "",
            position=self.position(),
        )


def _public(body: dict[str, Any]) -> dict[str, Any]:
    """A dead letter's body: without what may not outlive the send (a replay goes without it)."""
    return {k: v for k, v in body.items() if k not in PRIVATE_FIELDS}


class _Transaction:
    """``with ledger._tx() as db``: BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if kind else "COMMIT")
