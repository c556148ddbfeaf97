"""Batched, idempotent event writes.

Idempotency has two layers (ARCHITECTURE.md explains why both):
1. Each batch is inserted with ``insert_deduplication_token`` = a hash of its sorted
   event ids. ClickHouse remembers the tokens of the last ``deduplication_window``
   blocks of a table, so the same batch inserted again (a retry after a timeout
   whose first attempt did land) is dropped at once: one row per event, no FINAL.
2. ``events`` is a ReplacingMergeTree keyed by the event's sorting key, so an event
   that arrives again in a *different* batch (a crash between insert and outbox
   acknowledgement, re-drained in another grouping) collapses at merge time;
   exact counts use ``FINAL`` or ``uniqExact(event_id)``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from .errors import RowsRefused
from .events import EventRow
from .quarantine import Refused

if TYPE_CHECKING:  # only annotations: importing it would load the ClickHouse driver
    from .client import Warehouse

__all__ = ["EventWriter", "batch_token"]


def batch_token(event_ids: Iterable[str]) -> str:
    """The deduplication token of a batch: independent of the order of its events."""
    digest = hashlib.sha256()
    for event_id in sorted(event_ids):
        digest.update(event_id.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class EventWriter:
    """Writes events to the warehouse in batches of at most ``batch_rows``, idempotently.

    ``write`` inserts at once; ``add`` buffers and flushes when the buffer holds
    ``batch_rows`` events or its oldest event has waited ``max_delay`` seconds.
    """

    def __init__(
        self,
        wh: Warehouse,
        *,
        table: str = "events",
        batch_rows: int = 1000,
        max_delay: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wh = wh
        self._table = table
        self.batch_rows = batch_rows
        self.max_delay = max_delay
        self._clock = clock
        self._buffer: list[EventRow] = []
        self._oldest = 0.0
        # On a cluster the Distributed table forwards synchronously, so the shards see the token
        # and a failure surfaces here instead of in a background queue.
        self._settings: dict[str, object] = {"distributed_foreground_insert": 1} if wh.cluster else {}

    def write(self, rows: Sequence[EventRow]) -> int:
        """Insert ``rows`` now, in deterministic batches; returns how many rows were sent."""
        return self.write_json([(row.event_id, row.to_json()) for row in rows])

    def write_json(self, rows: Sequence[tuple[str, str]]) -> int:
        """Insert rows given as (event id, ``EventRow.to_json()`` text), as they come out of the outbox.

        Rows are sorted by event id and cut into chunks of ``batch_rows``, so the same rows always
        form the same chunks and the same deduplication tokens, whatever order they came in.
        """
        ordered = sorted(rows)
        for start in range(0, len(ordered), self.batch_rows):
            self._insert(ordered[start : start + self.batch_rows])
        return len(ordered)

    def write_isolating(self, rows: Sequence[tuple[str, str]]) -> list[Refused]:
        """``write_json``, except that the rows the warehouse refuses for their data are returned, not raised.

        A refused chunk is halved until each refused row is alone (a few inserts per bad row: log2 of the
        chunk). The halves are cut from the sorted rows and carry their own deduplication tokens, so the same
        batch retried after a crash cuts the same halves and is dropped again; a batch cut differently is
        collapsed by the table's engine. Any other error (the warehouse down, a timeout) is raised: nothing is
        set apart while the warehouse itself is failing.
        """
        ordered = sorted(rows)
        refused: list[Refused] = []
        for start in range(0, len(ordered), self.batch_rows):
            self._isolate(ordered[start : start + self.batch_rows], refused)
        return refused

    def _isolate(self, chunk: Sequence[tuple[str, str]], refused: list[Refused]) -> None:
        try:
            self._insert(chunk)
        except RowsRefused as exc:
            if len(chunk) == 1:
                event_id, payload = chunk[0]
                refused.append(Refused(event_id, payload, exc.code, exc.name, exc.message))
                return
            middle = len(chunk) // 2
            self._isolate(chunk[:middle], refused)
            self._isolate(chunk[middle:], refused)

    def _insert(self, chunk: Sequence[tuple[str, str]]) -> None:
        settings = {**self._settings, "insert_deduplication_token": batch_token(i for i, _ in chunk)}
        data = "\n".join(text for _, text in chunk).encode()
        self._wh.insert_raw(self._table, data, "JSONCompactEachRow", settings)

    def add(self, row: EventRow) -> int:
        """Buffer one row; flush (returning the rows written) when the batch is full or old enough."""
        if not self._buffer:
            self._oldest = self._clock()
        self._buffer.append(row)
        return self.flush() if self.due() else 0

    def due(self) -> bool:
        """True when the buffer should be flushed now."""
        return bool(self._buffer) and (
            len(self._buffer) >= self.batch_rows or self._clock() - self._oldest >= self.max_delay
        )

    def flush(self) -> int:
        """Write whatever is buffered. On failure the buffer is kept for the next try."""
        if not self._buffer:
            return 0
        written = self.write(self._buffer)
        self._buffer = []
        return written

    @property
    def buffered(self) -> int:
        return len(self._buffer)
