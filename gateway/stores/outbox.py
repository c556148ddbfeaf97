"""The durable outbox: every tracked hit is committed here before the person gets an answer.

SQLite in WAL mode under the data directory. Requests never touch SQLite themselves:
``append`` hands the record to one writer thread and awaits its commit. The thread takes
every record that arrived meanwhile and commits them in one transaction (group commit),
so one fsync serves many requests; it then wakes the waiting requests with a single
call into the event loop.

Consumers (the warehouse pipeline, the GA4 relay) each keep a position that survives restarts; a row is
deleted once every consumer has passed it.

A row may carry a ``private`` part beside its payload: what the relay must send but the warehouse must never
hold (MP ``user_data``, a full ``ip_override``). It commits in the same statement as the payload, the
pipeline never reads it (``read`` selects the payload only), the relay reads it (``read_after``) and clears
it once its ledger holds the event (``clear_private``), and it goes with the row when the row is erased. The outbox is
bounded: past ``max_events`` pending rows ``append`` answers False at once, and the
caller still answers the person but counts the hit as dropped.

One process writes one outbox (the run file guarantees a single gateway per data directory),
which lets the writer number rows itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .sqlite import connect

__all__ = ["Outbox", "OutboxRecord"]

log = logging.getLogger(__name__)
_ROWS_PER_STATEMENT = 4000  # 5 parameters a row, under SQLite's 32,766 parameters a statement
_INSERT = "INSERT INTO outbox (id, created, event_id, payload, private) VALUES "
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, created REAL NOT NULL, event_id TEXT NOT NULL, payload TEXT NOT NULL, private TEXT
);
CREATE TABLE IF NOT EXISTS positions (consumer TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    id: int
    created: float
    event_id: str
    payload: str
    private: str | None = None  # what only the relay may read (see the module docstring)


_Pending = tuple[float, str, str, str | None, "asyncio.Future[bool]"]


class Outbox:
    """A bounded, durable queue with group commit and per-consumer positions."""

    def __init__(
        self,
        path: Path,
        *,
        consumers: Sequence[str] = ("warehouse",),
        max_events: int = 1_000_000,
        synchronous: str = "full",
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_events = max_events
        self._writer = connect(path, synchronous)
        self._writer.executescript(_SCHEMA)
        columns = {row[1] for row in self._writer.execute("PRAGMA table_info(outbox)")}
        if "private" not in columns:  # an outbox written before the column existed
            self._writer.execute("ALTER TABLE outbox ADD COLUMN private TEXT")
        # Ids never go back, even when every row was consumed and deleted: positions remember them.
        self._last_id: int = self._writer.execute(
            "SELECT max((SELECT coalesce(max(id), 0) FROM outbox), (SELECT coalesce(max(last_id), 0) FROM positions))"
        ).fetchone()[0]
        floor = self._writer.execute("SELECT coalesce(min(id) - 1, ?) FROM outbox", (self._last_id,)).fetchone()[0]
        for name in consumers:
            self._writer.execute("INSERT OR IGNORE INTO positions VALUES (?, ?)", (name, floor))
        self._positions: dict[str, int] = dict(self._writer.execute("SELECT consumer, last_id FROM positions"))
        self._readers = threading.local()
        self._all_readers: list[sqlite3.Connection] = []
        self._synchronous = synchronous
        self._pending: deque[_Pending] = deque()
        self._committing = 0
        self._count_lock = threading.Lock()
        self._wake = threading.Event()
        self._committed = threading.Condition()
        self._closing = False
        self._batch_started = 0.0  # when the batch being committed was taken (0: none)
        self._thread = threading.Thread(target=self._write_loop, name="outbox-writer", daemon=True)
        self._thread.start()

    # The request side -------------------------------------------------------------------------

    def depth(self) -> int:
        """Rows not yet passed by the slowest consumer (what the bound applies to)."""
        return self._last_id - min(self._positions.values(), default=self._last_id)

    def full(self) -> bool:
        # ``_committing``: taken off the queue by the writer but not yet counted in ``_last_id``
        return self.depth() + len(self._pending) + self._committing >= self.max_events

    def append(self, event_id: str, payload: str, private: str | None = None) -> asyncio.Future[bool]:
        """Queue one event; the future resolves True once committed, False when the outbox is full.

        ``private``: what only the relay reads, committed with the payload. Call it from the event loop; an
        exception from SQLite (disk full...) is set on the future.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        with self._count_lock:
            if self._closing or self.full():
                future.set_result(False)
                return future
            self._pending.append((time.time(), event_id, payload, private, future))
        self._wake.set()
        return future

    def _write_loop(self) -> None:
        # Nothing may end this loop but a stop: every request that records a hit awaits it. One record that
        # cannot be written (a string SQLite cannot encode) fails its own append, never the thread.
        while True:
            self._wake.wait()
            time.sleep(0.002)  # let more requests join this commit: fewer GIL handoffs and fsyncs
            self._wake.clear()
            with self._count_lock:  # every queued event is counted by full(): in the queue, or committing
                batch = list(self._pending)
                self._pending.clear()
                self._committing = len(batch)
            if batch:
                self._batch_started = time.time()
                try:
                    self._commit(batch)
                except Exception as exc:  # not one record's fault (the loop is gone?): answer all, keep going
                    log.exception("the outbox writer failed a batch of %d records", len(batch))
                    self._answer(batch, [([p[-1] for p in batch], exc)])
                finally:
                    self._batch_started = 0.0
                    with self._count_lock:
                        self._committing = 0  # what failed to commit was answered with its error, not stored
            elif self._closing:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        # One multi-row INSERT in autocommit mode: a single statement is its own transaction, and a
        # single call into SQLite means this thread gives up and retakes the GIL once per chunk
        # instead of once per row (each retake can wait for the busy event loop).
        outcomes: list[tuple[list[asyncio.Future[bool]], BaseException | None]] = []
        for start in range(0, len(batch), _ROWS_PER_STATEMENT):
            chunk = batch[start : start + _ROWS_PER_STATEMENT]
            try:
                self._insert(chunk)
                outcomes.append(([p[-1] for p in chunk], None))
            except Exception as exc:  # nothing of the statement was written: find the records at fault
                if len(chunk) == 1:
                    outcomes.append(([chunk[0][-1]], exc))
                    continue
                for one in chunk:
                    try:
                        self._insert([one])
                        outcomes.append(([one[-1]], None))
                    except Exception as error:
                        log.warning("an outbox record was refused (%s)", type(error).__name__)
                        outcomes.append(([one[-1]], error))
        self._answer(batch, outcomes)
        with self._committed:
            self._committed.notify_all()

    def _insert(self, chunk: list[_Pending]) -> None:
        params: list[object] = []
        for i, (created, event_id, payload, private, _) in enumerate(chunk, self._last_id + 1):
            params += (i, created, event_id, payload, private)
        self._writer.execute(_INSERT + ",".join(["(?,?,?,?,?)"] * len(chunk)), params)
        with self._count_lock:
            self._last_id += len(chunk)
            self._committing -= len(chunk)

    @staticmethod
    def _answer(
        batch: list[_Pending],
        outcomes: list[tuple[list[asyncio.Future[bool]], BaseException | None]],
    ) -> None:
        loop = batch[0][-1].get_loop()
        with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown); the rows are committed anyway
            loop.call_soon_threadsafe(_settle, outcomes)

    def health(self, now: float, stall_seconds: float) -> str:
        """ "" when the writer works; else why not, in a few fixed words (what ``/readyz`` reports)."""
        if not self._thread.is_alive():
            return "" if self._closing else "the outbox writer thread has stopped"
        started = self._batch_started
        with self._count_lock:
            oldest = self._pending[0][0] if self._pending else 0.0
        if (started and now - started > stall_seconds) or (oldest and now - oldest > stall_seconds):
            return f"the outbox writer has not committed for over {stall_seconds:g} s"
        return ""

    # The consumer side ------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is None:
            conn = connect(self.path, self._synchronous)
            self._readers.conn = conn
            self._all_readers.append(conn)
        return conn

    def position(self, consumer: str) -> int:
        return self._positions[consumer]

    def pending(self, consumer: str) -> int:
        """How many records ``consumer`` has not passed yet (from memory: cheap enough to poll)."""
        return self._last_id - self._positions[consumer]

    def oldest_created(self, consumer: str) -> float | None:
        """When the oldest record ``consumer`` has not passed was appended (None when there is none)."""
        row = (
            self._reader()
            .execute("SELECT created FROM outbox WHERE id > ? ORDER BY id LIMIT 1", (self._positions[consumer],))
            .fetchone()
        )
        return float(row[0]) if row else None

    def read(self, consumer: str, limit: int) -> list[OutboxRecord]:
        """The next ``limit`` records after ``consumer``'s position, oldest first."""
        rows = self._reader().execute(
            "SELECT id, created, event_id, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
            (self._positions[consumer], limit),
        )
        return [OutboxRecord(*row) for row in rows]

    def read_after(self, after_id: int, limit: int) -> list[OutboxRecord]:
        """The next ``limit`` records after ``after_id``, for a consumer that keeps its own position too.

        Rows are deleted only once every consumer's position here passed them, so a consumer whose own
        position is ahead of the one it acknowledged here always finds what it has not taken.
        """
        rows = self._reader().execute(
            "SELECT id, created, event_id, payload, private FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [OutboxRecord(*row) for row in rows]

    def clear_private(self, up_to_id: int) -> int:
        """Forget the private parts of the rows up to ``up_to_id`` (the relay's ledger holds them now).

        The freed bytes are overwritten (``secure_delete``); returns how many rows had one.
        """
        conn = self._reader()
        conn.execute("PRAGMA secure_delete = ON")
        return conn.execute(
            "UPDATE outbox SET private = NULL WHERE id <= ? AND private IS NOT NULL", (up_to_id,)
        ).rowcount

    def ack(self, consumer: str, last_id: int) -> None:
        """Move ``consumer`` past ``last_id`` durably; rows every consumer has passed are deleted."""
        conn = self._reader()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("UPDATE positions SET last_id = ? WHERE consumer = ?", (last_id, consumer))
            floor = conn.execute("SELECT min(last_id) FROM positions").fetchone()[0]
            conn.execute("DELETE FROM outbox WHERE id <= ?", (floor,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._positions[consumer] = last_id

    def forget(
        self, match: Callable[[str], bool], needles: Sequence[str], private_needles: Sequence[str] = ()
    ) -> list[str]:
        """Erasure: delete the rows whose payload ``match``es, passed by a consumer or not; returns their event ids.

        SQLite finds candidates by substring (``needles``: the subject's values as JSON strings), ``match`` decides
        on the payload; a row whose private part holds one of ``private_needles`` (the subject's hashed email in
        ``user_data``) goes too. Deleted rows are overwritten on disk (``secure_delete``). A consumer whose next
        unread rows were all erased moves past them; erased rows after rows it has yet to read stay counted in
        ``pending`` until the next event arrives. Call it while the consumers hold still (``Pipeline.hold``,
        ``Relay.hold``).
        """
        if not (needles or private_needles):
            return []
        conn = connect(self.path, self._synchronous)
        try:
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("BEGIN IMMEDIATE")
            try:
                where = " OR ".join(["instr(payload, ?) > 0"] * len(needles) + ["0"])
                private = " OR ".join(["instr(private, ?) > 0"] * len(private_needles) + ["0"])
                rows = conn.execute(
                    f"SELECT id, event_id, payload, ({private}) FROM outbox WHERE ({where}) OR ({private})",
                    [*private_needles, *needles, *private_needles],
                )
                gone = [(row_id, event_id) for row_id, event_id, payload, theirs in rows.fetchall()
                        if theirs or match(payload)]  # fmt: skip
                conn.executemany("DELETE FROM outbox WHERE id = ?", [(row_id,) for row_id, _ in gone])
                moved = self._skip_erased(conn) if gone else {}
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._positions.update(moved)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return [event_id for _, event_id in gone]

    def _skip_erased(self, conn: sqlite3.Connection) -> dict[str, int]:
        """Move each consumer to just before its next remaining row (or to the last committed id)."""
        with self._count_lock:
            last = self._last_id  # every row up to here is committed
        moved: dict[str, int] = {}
        for consumer, position in conn.execute("SELECT consumer, last_id FROM positions").fetchall():
            following = conn.execute("SELECT min(id) FROM outbox WHERE id > ?", (position,)).fetchone()[0]
            target = last if following is None else min(last, following - 1)
            if target > position:
                conn.execute("UPDATE positions SET last_id = ? WHERE consumer = ?", (target, consumer))
                moved[consumer] = target
        return moved

    def wait(self, timeout: float) -> None:
        """Block a consumer thread until something is committed or ``timeout`` passes."""
        with self._committed:
            self._committed.wait(timeout)

    def stop_writing(self) -> None:
        """Commit what is queued and take nothing more; consumers can still read and acknowledge."""
        self._closing = True
        self._wake.set()
        self._thread.join(timeout=30)

    def close(self) -> None:
        """Stop writing (if not done yet) and close every connection: call it after the consumers stopped."""
        self.stop_writing()
        self._writer.close()
        for conn in self._all_readers:
            conn.close()


def _settle(outcomes: list[tuple[list[asyncio.Future[bool]], BaseException | None]]) -> None:
    for futures, error in outcomes:
        for future in futures:
            if future.done():
                continue
            if error is None:
                future.set_result(True)
            else:
                future.set_exception(error)
