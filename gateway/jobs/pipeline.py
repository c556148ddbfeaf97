"""The pipeline: drains the outbox into the warehouse in batches, idempotently, in a background thread.

A batch is written when it holds ``batch_rows`` events or its oldest event has waited
``max_delay`` seconds. The outbox position moves only after the warehouse acknowledged
the insert, so a crash or a warehouse outage never loses an event; a batch re-sent after
a crash is made harmless by the writer's idempotency (see ``warehouse.writer``).

A row the warehouse refuses for its data (a value its column cannot hold) is set apart in
``events_quarantine`` while the rest of its batch is stored: one bad row never holds up the
others. Nothing ends the thread but a stop, and ``health`` tells ``/readyz`` when it has died
or stopped storing while events wait.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from consent import ConsentLedger
from gateway.state.consent_link import ConsentLink
from gateway.state.identity_link import IdentityLink
from gateway.stores.outbox import Outbox, OutboxRecord
from gateway.stores.warehouse_link import WarehouseLink, error_reason
from gateway.telemetry.metrics import Metrics
from gateway.telemetry.redaction import redact
from gateway.threads import NICE as _NICE
from gateway.threads import deprioritize_this_thread
from identity import EdgeStore
from warehouse import EVENT_COLUMN_NAMES, EventRow, EventWriter, WarehouseError, quarantine

__all__ = ["Pipeline", "PipelineState"]

log = logging.getLogger(__name__)
CONSUMER = "warehouse"
_POLL_SECONDS = 0.05
_MAX_READ = 20_000


@dataclass(frozen=True)
class PipelineState:
    """What ``/readyz`` reports of the pipeline."""

    pending: int
    oldest_age_seconds: float
    last_error: str
    shipped: int
    quarantined: int = 0


def _deprioritize_engine_threads() -> None:
    """Give the embedded engine's own threads (merges, flushes, pools) the pipeline's low priority.

    chDB names its threads (``BgSchPool``, ``MergeMutate``...); Python's threads keep the process
    name. A background merge competing as an equal with the event loop on a busy core is what makes
    the slowest answers slow.
    """
    tasks = Path("/proc/self/task")
    try:
        main_name = (tasks / str(os.getpid()) / "comm").read_text()
        for task in tasks.iterdir():
            with contextlib.suppress(OSError, ValueError):
                if (task / "comm").read_text() != main_name:
                    os.setpriority(os.PRIO_PROCESS, int(task.name), _NICE)
    except OSError:  # not Linux: nothing to do
        return


class Pipeline:
    """One background thread moving outbox records to the warehouse."""

    def __init__(
        self,
        outbox: Outbox,
        link: WarehouseLink,
        metrics: Metrics,
        *,
        batch_rows: int = 1000,
        max_delay: float = 1.0,
        identity: IdentityLink | None = None,
        consent: ConsentLink | None = None,
    ) -> None:
        self._outbox = outbox
        self._identity = identity
        self._consent = consent
        self._link = link
        self._metrics = metrics
        self.batch_rows = batch_rows
        self.max_delay = max_delay
        self.last_error = ""  # the failing round's error kind and code, never its text (/readyz shows it)
        self.shipped = 0
        self.quarantined = 0
        self._oldest = 0.0
        self._started = False
        self._progress = time.time()  # when a round last shipped or found nothing due (the heartbeat)
        self._stop = threading.Event()
        # Held while a batch is between the outbox and the warehouse; an erasure holds it to find every row still.
        self.hold = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)
        metrics.describe("ga4gw_warehouse_rows_total", "Events written to the warehouse")
        metrics.describe("ga4gw_warehouse_errors_total", "Failed warehouse writes (retried)")
        metrics.describe("ga4gw_warehouse_quarantined_total", "Events the warehouse refused, kept in events_quarantine")
        metrics.gauge("ga4gw_outbox_pending", "Events in the outbox not yet in the warehouse", self._pending)
        metrics.gauge("ga4gw_warehouse_up", "1 when the last warehouse write worked", self._up)

    def _pending(self) -> float:
        return float(self._outbox.depth())

    def _up(self) -> float:
        return 0.0 if self.last_error or self._link.warehouse is None else 1.0

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ship what is pending (while the warehouse answers), then stop."""
        self._stop.set()
        self._thread.join(timeout)

    def state(self) -> PipelineState:
        age = time.time() - self._oldest if self._oldest else 0.0
        return PipelineState(self._outbox.depth(), age, self.last_error, self.shipped, self.quarantined)

    def health(self, now: float, stall_seconds: float) -> str:
        """ "" when the thread works; else why not, in a few fixed words (what ``/readyz`` reports)."""
        if not self._thread.is_alive():
            return "" if self._stop.is_set() or not self._started else "the pipeline thread has stopped"
        if self._outbox.pending(CONSUMER) and now - self._progress > stall_seconds:
            return f"the pipeline has not stored a batch for over {stall_seconds:g} s"
        return ""

    def _run(self) -> None:
        # Shipping can wait a few milliseconds; answering people cannot. On Linux a thread has its own
        # nice value, and the engine threads it starts inherit it.
        deprioritize_this_thread()
        _deprioritize_engine_threads()
        backoff = 0.5
        while True:
            try:
                wait = self._round()
            except Exception as exc:  # nothing may stop this thread: the outbox would only ever grow
                self._failed(exc)
                wait = _FAILED
            if wait is None:
                return
            if wait == 0.0:  # shipped: the next batch at once
                backoff = 0.5
                continue
            if wait == _FAILED:
                if self._stop.is_set():
                    return  # the warehouse is down: what is left stays in the outbox for the next start
                wait = backoff
                backoff = min(backoff * 2, 30.0)
            self._stop.wait(wait)

    def _round(self) -> float | None:
        """One look at the outbox: how long to wait before the next (0: at once, None: stop, ``_FAILED``)."""
        stopping = self._stop.is_set()
        pending = self._outbox.pending(CONSUMER)
        if not pending:
            self._oldest = 0.0
            self._progress = time.time()
            if stopping:
                return None
            self._outbox.wait(self.max_delay)
            return 0.0
        oldest = self._outbox.oldest_created(CONSUMER) or time.time()
        self._oldest = oldest
        age = time.time() - oldest
        if pending < self.batch_rows and age < self.max_delay and not stopping:
            # Not due yet: sleep until the oldest is due, checking the count now and then
            # (never re-reading the rows themselves on every commit).
            self._progress = time.time()
            return min(self.max_delay - age, _POLL_SECONDS)
        # Due: take everything pending, up to a cap, so a backlog drains in few large inserts.
        with self.hold:
            records = self._outbox.read(CONSUMER, max(self.batch_rows, min(pending, _MAX_READ)))
            shipped = bool(records) and self._ship(records)
        if not records:  # only erased rows were left (see Outbox.forget): nothing to wait for
            return None if stopping else _POLL_SECONDS
        if shipped:
            self._progress = time.time()
            return 0.0
        return _FAILED

    def _failed(self, exc: BaseException) -> None:
        """Count and log a failed round: the reason in ``/readyz`` is the error's kind, its text goes to the log."""
        reason = error_reason(exc) if isinstance(exc, WarehouseError) else f"pipeline: {type(exc).__name__}"
        if reason != self.last_error:
            text = exc.message if isinstance(exc, WarehouseError) else str(exc)
            log.error("warehouse write failed (%s), events stay in the outbox: %s", reason, redact(text))
        self.last_error = reason
        self._metrics.inc("ga4gw_warehouse_errors_total")

    def _ship(self, records: list[OutboxRecord]) -> bool:
        wh = self._link.warehouse
        if wh is None:
            self.last_error = "the warehouse is not connected"
            return False
        try:
            refused = EventWriter(wh, batch_rows=_MAX_READ).write_isolating([(r.event_id, r.payload) for r in records])
            if refused:  # set apart, so that the rest flows on; kept before the outbox lets them go
                quarantine(wh, refused, datetime.now(UTC))
                gone = {r.event_id for r in refused}
                records_kept = [r for r in records if r.event_id not in gone]
            else:
                records_kept = records
            rows = list(_rows(records_kept)) if self._identity is not None or self._consent is not None else []
            edges = self._identity.edges(rows) if self._identity is not None else []
            decisions = self._consent.events_of(rows) if self._consent is not None else []
            # The batch's identity edges and consent decisions right after its events: a failure re-sends
            # all, and the events' insert is idempotent (edges and decisions are appended again: the graph
            # only keeps a copy more, the consent snapshot keeps a decision once).
            EdgeStore(wh).append(edges)
            if decisions:
                ConsentLedger(wh).append(decisions)
        except WarehouseError as exc:
            self._failed(exc)
            return False
        self._outbox.ack(CONSUMER, records[-1].id)
        if refused:
            self.quarantined += len(refused)
            self._metrics.inc("ga4gw_warehouse_quarantined_total", len(refused))
            log.error("%d events the warehouse refused were set apart in events_quarantine (%s)", len(refused),
                      ", ".join(sorted({f"{r.code} {r.name}" for r in refused})))  # fmt: skip
        if self._identity is not None:
            self._identity.add(edges)
        if self._consent is not None:
            self._consent.add(decisions)
        if self.last_error:
            log.info("warehouse writes work again")
        self.last_error = ""
        stored = len(records) - len(refused)
        self.shipped += stored
        self._metrics.inc("ga4gw_warehouse_rows_total", stored)
        return True


_FAILED = -1.0  # a round whose batch did not ship: wait with backoff

_SOURCE, _RECIPIENT, _CLIENT = (EVENT_COLUMN_NAMES.index(c) for c in ("source", "recipient", "ga_client_id"))
_PARAMS = EVENT_COLUMN_NAMES.index("params")


def _rows(records: list[OutboxRecord]) -> Iterator[EventRow]:
    """The rows that can join identifiers or state consent; most opens and clicks (no cookie, no email) are
    passed over cheaply."""
    for record in records:
        try:
            values = json.loads(record.payload)
            if values[_SOURCE] in ("open", "click") and not (
                values[_RECIPIENT] and (values[_CLIENT] or "email_pseudonym" in values[_PARAMS])
            ):
                continue
            yield EventRow.from_json(record.payload)
        except (ValueError, TypeError, KeyError, IndexError):  # stored as it is; it just names nobody
            continue
