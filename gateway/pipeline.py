"""The pipeline: drains the outbox into the warehouse in batches, idempotently, in a background thread.

A batch is written when it holds ``batch_rows`` events or its oldest event has waited
``max_delay`` seconds. The outbox position moves only after the warehouse acknowledged
the insert, so a crash or a warehouse outage never loses an event; a batch re-sent after
a crash is made harmless by the writer's idempotency (see ``warehouse.writer``).
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
from pathlib import Path

from consent import ConsentLedger
from identity import EdgeStore
from warehouse import EVENT_COLUMN_NAMES, EventRow, EventWriter, WarehouseError

from .consent_link import ConsentLink
from .identity_link import IdentityLink
from .metrics import Metrics
from .outbox import Outbox, OutboxRecord
from .warehouse_link import WarehouseLink

__all__ = ["Pipeline", "PipelineState", "deprioritize_this_thread"]

log = logging.getLogger(__name__)
CONSUMER = "warehouse"
_POLL_SECONDS = 0.05
_NICE = 10
_MAX_READ = 20_000


@dataclass(frozen=True)
class PipelineState:
    """What ``/readyz`` reports of the pipeline."""

    pending: int
    oldest_age_seconds: float
    last_error: str
    shipped: int


def deprioritize_this_thread() -> None:
    """Background work can wait a few milliseconds; answering people cannot (Linux: a thread has its own nice)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)


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
        self.last_error = ""
        self.shipped = 0
        self._oldest = 0.0
        self._stop = threading.Event()
        # Held while a batch is between the outbox and the warehouse; an erasure holds it to find every row still.
        self.hold = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)
        metrics.describe("ga4gw_warehouse_rows_total", "Events written to the warehouse")
        metrics.describe("ga4gw_warehouse_errors_total", "Failed warehouse writes (retried)")
        metrics.gauge("ga4gw_outbox_pending", "Events in the outbox not yet in the warehouse", self._pending)
        metrics.gauge("ga4gw_warehouse_up", "1 when the last warehouse write worked", self._up)

    def _pending(self) -> float:
        return float(self._outbox.depth())

    def _up(self) -> float:
        return 0.0 if self.last_error or self._link.warehouse is None else 1.0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ship what is pending (while the warehouse answers), then stop."""
        self._stop.set()
        self._thread.join(timeout)

    def state(self) -> PipelineState:
        age = time.time() - self._oldest if self._oldest else 0.0
        return PipelineState(self._outbox.depth(), age, self.last_error, self.shipped)

    def _run(self) -> None:
        # Shipping can wait a few milliseconds; answering people cannot. On Linux a thread has its own
        # nice value, and the engine threads it starts inherit it.
        deprioritize_this_thread()
        _deprioritize_engine_threads()
        backoff = 0.5
        while True:
            stopping = self._stop.is_set()
            pending = self._outbox.pending(CONSUMER)
            if not pending:
                self._oldest = 0.0
                if stopping:
                    return
                self._outbox.wait(self.max_delay)
                continue
            oldest = self._outbox.oldest_created(CONSUMER) or time.time()
            self._oldest = oldest
            age = time.time() - oldest
            if pending < self.batch_rows and age < self.max_delay and not stopping:
                # Not due yet: sleep until the oldest is due, checking the count now and then
                # (never re-reading the rows themselves on every commit).
                self._stop.wait(min(self.max_delay - age, _POLL_SECONDS))
                continue
            # Due: take everything pending, up to a cap, so a backlog drains in few large inserts.
            with self.hold:
                records = self._outbox.read(CONSUMER, max(self.batch_rows, min(pending, _MAX_READ)))
                shipped = bool(records) and self._ship(records)
            if not records:  # only erased rows were left (see Outbox.forget): nothing to wait for
                if stopping:
                    return
                self._stop.wait(_POLL_SECONDS)
                continue
            if shipped:
                backoff = 0.5
                continue
            if stopping:
                return  # the warehouse is down: what is left stays in the outbox for the next start
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    def _ship(self, records: list[OutboxRecord]) -> bool:
        wh = self._link.warehouse
        if wh is None:
            self.last_error = self._link.last_error or "the warehouse is not connected"
            return False
        rows = list(_rows(records)) if self._identity is not None or self._consent is not None else []
        edges = self._identity.edges(rows) if self._identity is not None else []
        decisions = self._consent.events_of(rows) if self._consent is not None else []
        try:
            EventWriter(wh, batch_rows=_MAX_READ).write_json([(r.event_id, r.payload) for r in records])
            # The batch's identity edges and consent decisions right after its events: a failure re-sends
            # all, and the events' insert is idempotent (edges and decisions are appended again: the graph
            # only keeps a copy more, the consent snapshot keeps a decision once).
            EdgeStore(wh).append(edges)
            if decisions:
                ConsentLedger(wh).append(decisions)
        except WarehouseError as exc:
            if not self.last_error:
                log.error("warehouse write failed, events stay in the outbox: %s", exc.message)
            self.last_error = exc.message
            self._metrics.inc("ga4gw_warehouse_errors_total")
            return False
        self._outbox.ack(CONSUMER, records[-1].id)
        if self._identity is not None:
            self._identity.add(edges)
        if self._consent is not None:
            self._consent.add(decisions)
        if self.last_error:
            log.info("warehouse writes work again")
        self.last_error = ""
        self.shipped += len(records)
        self._metrics.inc("ga4gw_warehouse_rows_total", len(records))
        return True


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
