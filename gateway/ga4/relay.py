"""The GA4 relay: outbox -> payloads -> validator -> ledger -> Measurement Protocol, in its own thread.

Three loops share one event loop on the relay's thread (the edge's loop never waits for GA4):

intake    every ``batch_delay`` seconds, once the consent ledger is loaded: reads what the outbox
          holds after the ledger's position (up to the first open or click younger than
          ``settle_seconds``: see ``settling.py``), turns each event into MP events (``payloads``, consent
          applied), dead-letters what the validator refuses or what is past GA4's 72 hours, drops
          purchases already relayed (transaction id), packs the rest into requests (``batching``)
          and commits all of it to the ledger at once; then the outbox forgets the rows' private
          parts (MP ``user_data``, full ``ip_override``), which the ledger keeps until the send.
sender    up to ``concurrency`` requests in flight. Before each send: consent again (an event that
          lost a purpose since intake is not sent), expiry and the validator. 2xx: sent, never
          again. 429: retried after its Retry-After. 5xx, timeouts and transport errors: retried
          with exponential backoff and jitter (an error after the body went out may mean it
          arrived: counted as ambiguous). Any other answer: dead, ``rejected``. With no
          measurement id or secret the sender does not run (dry run): requests wait in the
          ledger, validated.
reporter  copies final outcomes to the warehouse's ``ga4_deliveries`` and prunes the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.stores.outbox import Outbox
from gateway.stores.warehouse_link import WarehouseLink
from gateway.telemetry.metrics import Metrics
from gateway.telemetry.redaction import described, redact
from gateway.threads import deprioritize_this_thread
from warehouse import WarehouseError

from .batching import pack
from .ledger import DeadLetter, Due, Ledger
from .letters import clamp, dead_letter, expired_message, split
from .narrowing import Narrowing
from .payloads import Outgoing, PayloadBuilder, Skip
from .reporting import report
from .settling import Settling
from .transport import MPClient, SendFailed, retry_after
from .validate import DEFAULT_LIMITS, Limits, validate

__all__ = ["CONSUMER", "Relay", "RelayConfig"]

log = logging.getLogger(__name__)
CONSUMER = "ga4"
_READ = 20_000
_REPORT_SECONDS = 2.0
_PRUNE_SECONDS = 3600.0


@dataclass(frozen=True)
class RelayConfig:
    """How the relay sends; ``dry_run`` when there is no measurement id or secret."""

    measurement_id: str = ""
    api_secret: str = ""
    origin: str = "https://www.google-analytics.com"
    concurrency: int = 16
    timeout: float = 10.0
    max_backoff: float = 300.0
    expired: str = "dead"  # or "clamp"
    batch_delay: float = 0.5
    settle_seconds: float = 0.0
    verdicts: tuple[str, ...] = ("human", "image_proxy")
    ledger_days: int = 7
    limits: Limits = DEFAULT_LIMITS

    @property
    def dry_run(self) -> bool:
        return not (self.measurement_id and self.api_secret)


class Relay:
    """Owns the relay thread. ``start()`` after the outbox is open, ``stop()`` before it closes."""

    def __init__(
        self,
        outbox: Outbox,
        ledger_path: Path,
        builder: PayloadBuilder,
        config: RelayConfig,
        metrics: Metrics,
        link: WarehouseLink | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._outbox = outbox
        self._ledger_path = ledger_path
        self._builder = builder
        self.config = config
        self._metrics = metrics
        self._link = link
        self._clock = clock
        self._thread = threading.Thread(target=self._run, name="ga4-relay", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._work: asyncio.Event | None = None
        self._ledger: Ledger | None = None
        self._grace = config.timeout
        self._stop_requested = False
        # Held by intake and reporting (never waited for on the relay's loop: a round is skipped instead). An
        # erasure holds it so that no batch is half-way from the outbox to the ledger or the ledger to the warehouse.
        self.hold = threading.Lock()
        self.queued = 0
        self._settling = Settling(config.settle_seconds, config.verdicts)
        self._narrowing = Narrowing(config.limits, config.expired, builder.withdrawn, metrics, self._dequeued)
        self.last_error = ""  # a fixed reason (HTTP 503, transport error, intake: TypeError): /readyz shows it
        self._progress = time.time()  # when an intake round last completed (the heartbeat)
        metrics.describe("ga4gw_ga4_events_total", "MP events by outcome: sent, dead, skipped")
        metrics.describe("ga4gw_ga4_requests_total", "MP requests by answer: 2xx, 429, 5xx, 4xx, transport")
        metrics.gauge("ga4gw_ga4_queued_requests", "MP requests waiting in the delivery ledger", lambda: self.queued)

    # Lifetime --------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop taking and sending; requests in flight get ``timeout`` seconds to finish."""
        self._grace = timeout
        self._stop_requested = True
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        self._thread.join(timeout + 5)

    def health(self, now: float, stall_seconds: float) -> str:
        """ "" when the relay takes what the outbox holds; else why not, in a few fixed words (for ``/readyz``).

        Its position holds outbox rows until it passed them: a relay that stopped taking would fill the outbox.
        """
        if not self._thread.is_alive():
            return "" if self._stop_requested or self._thread.ident is None else "the GA4 relay thread has stopped"
        if self._outbox.pending(CONSUMER) and now - self._progress > stall_seconds:
            return f"the GA4 relay has not taken events for over {stall_seconds:g} s"
        return ""

    def _run(self) -> None:
        deprioritize_this_thread()  # relaying can wait a few milliseconds; answering people cannot
        # The relay must never take the gateway down, nor stop for good: its consumer position holds the
        # outbox, which would fill. On an unexpected error it starts again; its work waits in the ledger.
        while not self._stop_requested:
            try:
                asyncio.run(self._main())
            except Exception as exc:
                self.last_error = f"relay: {type(exc).__name__}"
                log.error("the GA4 relay failed; starting it again in 5 s: %s", described(exc))
                time.sleep(5)
            else:
                return

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if self._stop_requested:  # stop() came before this loop existed
            self._stopping.set()
        self._work = asyncio.Event()
        self._ledger = ledger = Ledger(self._ledger_path, clock=self._clock)
        try:
            recovered = ledger.recover()
            if recovered:
                log.warning("%d GA4 requests were in flight when the gateway stopped; they will be sent again "
                            "(counted as possibly duplicated)", recovered)  # fmt: skip
            if self.config.dry_run:
                log.warning("GA4 relay runs dry (no GA4GW_GA4_MEASUREMENT_ID or GA4GW_GA4_API_SECRET): "
                            "requests are validated and kept in the ledger, not sent")  # fmt: skip
            tasks = [self._intake_loop(ledger), self._report_loop(ledger)]
            if not self.config.dry_run:
                tasks.append(self._send_loop(ledger))
            await asyncio.gather(*tasks)
        finally:
            ledger.close()

    async def _pause(self, seconds: float) -> bool:
        """Sleep unless stopping; True when it is time to stop."""
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    # Intake ----------------------------------------------------------------------------------

    async def _intake_loop(self, ledger: Ledger) -> None:
        while not await self._pause(self.config.batch_delay):
            if not self.hold.acquire(blocking=False):  # an erasure is sweeping the stores: the next round
                self._progress = time.time()
                continue
            try:
                while self.intake(ledger) >= _READ:
                    pass
                self._progress = time.time()
            except Exception as exc:  # the loop goes on; what failed stays in the outbox for the next round
                self.last_error = f"intake: {type(exc).__name__}"
                log.error("GA4 intake failed: %s", described(exc))
            finally:
                self.hold.release()

    def intake(self, ledger: Ledger) -> int:
        """Take what the outbox holds after the ledger's position; returns how many events were read."""
        if not self._builder.consent.loaded:  # decisions not known yet: a withdrawal could be missed
            return 0
        position = max(ledger.position(), self._outbox.position(CONSUMER))
        records = self._outbox.read_after(position, _READ)
        if not records:
            return 0
        now = self._clock()
        taken = self._settling.settle(records, now)
        if not taken:  # the oldest open or click is still settling
            return 0
        records = [record for record, _ in taken]
        oldest = now - self.config.limits.max_age_seconds
        ready: list[Outgoing] = []
        dead: list[DeadLetter] = []
        skipped: Counter[str] = Counter()
        for record, row in taken:
            try:
                if isinstance(row, Exception):
                    raise row
                verdict_skip = self._settling.skip(row)
                private = json.loads(record.private) if record.private else None
                built = Skip(row.event_id, verdict_skip) if verdict_skip else self._builder.build(row, private)
            except Exception as exc:  # one bad row must not hold the rest
                error = {"fieldPath": "", "description": f"cannot read the stored event: {type(exc).__name__}",
                         "validationCode": "VALUE_INVALID"}  # fmt: skip
                dead.append(DeadLetter(record.event_id, "invalid", [error], {"raw": record.payload[:2000]},
                                       record.created))  # fmt: skip
                continue
            if isinstance(built, Skip):
                skipped[built.reason] += 1
            elif built.event_time < oldest and self.config.expired == "dead":
                dead.append(dead_letter(built, "expired", [expired_message(self.config.limits)]))
            else:  # validated before it is sent (``_send``), where an invalid event is set apart from the rest
                ready.append(clamp(built, now, self.config.limits) if built.event_time < oldest else built)
                self._settling.relayed(built.event_id)
        ready = self._drop_known_purchases(ledger, ready, skipped)
        deliveries = pack(ready, limits=self.config.limits)
        index = {o.event_id: o.index for o in ready}
        transactions = [(o.transaction_id, o.event_id) for o in ready if o.transaction_id]
        ledger.take(deliveries, index=index, dead=dead, skipped=skipped, transactions=transactions,
                    position=records[-1].id)  # fmt: skip
        self._outbox.ack(CONSUMER, records[-1].id)
        if any(record.private for record in records):  # the ledger holds them now; the warehouse never will
            self._outbox.clear_private(records[-1].id)
        for reason, count in skipped.items():
            self._metrics.inc("ga4gw_ga4_events_total", count, outcome="skipped", reason=reason)
        for letter in dead:
            self._metrics.inc("ga4gw_ga4_events_total", outcome="dead", reason=letter.reason)
        self.queued += len(deliveries)
        if deliveries and self._work is not None:
            self._work.set()
        return len(records)

    @staticmethod
    def _drop_known_purchases(ledger: Ledger, ready: list[Outgoing], skipped: Counter[str]) -> list[Outgoing]:
        """GA4 de-duplicates purchases by transaction id on web streams only: never relay one twice."""
        known = ledger.known_transactions(o.transaction_id for o in ready if o.transaction_id)
        kept = []
        for item in ready:
            if item.transaction_id and item.transaction_id in known:
                skipped["duplicate_transaction"] += 1
                continue
            if item.transaction_id:
                known.add(item.transaction_id)
            kept.append(item)
        return kept

    # Sending ---------------------------------------------------------------------------------

    async def _send_loop(self, ledger: Ledger) -> None:
        assert self._stopping is not None
        assert self._work is not None
        query = {"measurement_id": self.config.measurement_id, "api_secret": self.config.api_secret}
        running: set[asyncio.Task[None]] = set()
        client = MPClient(self.config.origin, query, connections=self.config.concurrency, timeout=self.config.timeout)
        async with client:
            while not self._stopping.is_set():
                free = self.config.concurrency - len(running)
                for due in ledger.claim(free) if free > 0 else ():
                    task = asyncio.create_task(self._send(client, ledger, due))
                    running.add(task)
                    task.add_done_callback(running.discard)
                if len(running) >= self.config.concurrency:  # full: wait for a place
                    await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                else:  # a place, but nothing due: wait for new work, a due retry, or a finished request
                    await self._wait_for_work(ledger, running)
            if running:  # let what is in flight finish; what does not is counted ambiguous at the next start
                await asyncio.wait(running, timeout=self._grace)

    async def _wait_for_work(self, ledger: Ledger, running: set[asyncio.Task[None]]) -> None:
        assert self._work is not None
        assert self._stopping is not None
        due = ledger.next_due()
        if due is None:
            self.queued = ledger.queued()
        wait = 1.0 if due is None else max(0.0, min(1.0, due - self._clock()))
        if wait == 0.0:
            return
        self._work.clear()
        waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._work.wait()),
                                             asyncio.ensure_future(self._stopping.wait())}  # fmt: skip
        await asyncio.wait(waiters | running, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    async def _send(self, client: MPClient, ledger: Ledger, due: Due) -> None:
        now = self._clock()
        left = self._narrowing.withdraw(ledger, due)
        left = self._narrowing.expire(ledger, left, now) if left is not None else None
        if left is None:
            return
        due, body = left, json.loads(left.body)
        if validate(body, now=now, limits=self.config.limits, body_size=len(due.body.encode())):
            left = self._narrowing.isolate(ledger, due, now)
            if left is None:
                return
            due, body = left, json.loads(left.body)
        try:
            response = await client.post(due.body.encode())
        except SendFailed as failure:  # ambiguous: the body may have arrived, so a retry may duplicate it (counted)
            self._retry(ledger, due, 0, redact(str(failure), 300), ambiguous=failure.ambiguous)
            self._metrics.inc("ga4gw_ga4_requests_total", answer="transport")
            return
        status = response.status
        if 200 <= status < 300:
            ledger.sent(due.id, status)
            self._dequeued()
            self.last_error = ""
            self._metrics.inc("ga4gw_ga4_requests_total", answer="2xx")
            self._metrics.inc("ga4gw_ga4_events_total", len(body["events"]), outcome="sent", reason="")
        elif status == 429 or status >= 500:
            wait = retry_after(response.headers.get("retry-after"), now) if status == 429 else None
            self._retry(ledger, due, status, f"HTTP {status}", ambiguous=False, after=wait)
            self._metrics.inc("ga4gw_ga4_requests_total", answer="429" if status == 429 else "5xx")
        else:
            self._metrics.inc("ga4gw_ga4_requests_total", answer="4xx")
            text = response.body[:500].decode("utf-8", "replace")
            self._kill(ledger, due, "rejected", [{"httpStatus": status, "body": text}], status)

    def _retry(
        self, ledger: Ledger, due: Due, status: int, error: str, *, ambiguous: bool, after: float | None = None
    ) -> None:
        reason = error if error.startswith("HTTP ") else "transport error"  # /readyz: fixed words only
        if after is None:  # exponential backoff with jitter: 1, 2, 4 ... seconds, capped, times 0.5 to 1
            base = min(1.0, self.config.max_backoff)
            after = min(self.config.max_backoff, base * 2 ** min(due.attempts - 1, 30)) * random.uniform(0.5, 1.0)  # noqa: S311
        self.last_error = reason
        ledger.retry(due.id, after=after, status=status, error=error, ambiguous=ambiguous)

    def _dequeued(self) -> None:
        self.queued = max(0, self.queued - 1)

    def _kill(self, ledger: Ledger, due: Due, reason: str, messages: list[dict[str, Any]], status: int = 0) -> None:
        letters = split(due, reason, messages)
        ledger.kill(due, reason, letters, status, reason)
        self._dequeued()
        self._metrics.inc("ga4gw_ga4_events_total", len(letters), outcome="dead", reason=reason)
        log.warning("GA4 request %s is dead (%s): %d events kept as dead letters", due.id, reason, len(letters))

    # Reporting -------------------------------------------------------------------------------

    async def _report_loop(self, ledger: Ledger) -> None:
        last_prune = 0.0
        while True:
            stopping = await self._pause(_REPORT_SECONDS)
            if self.hold.acquire(blocking=False):  # not while an erasure is sweeping the stores
                try:
                    with contextlib.suppress(WarehouseError):
                        self.report(ledger)
                finally:
                    self.hold.release()
            now = self._clock()
            if now - last_prune > _PRUNE_SECONDS:
                ledger.prune(now - self.config.ledger_days * 86400)
                last_prune = now
            if stopping:
                return

    def report(self, ledger: Ledger) -> int:
        """Copy final outcomes to the warehouse; returns the rows written."""
        wh = self._link.warehouse if self._link is not None else None
        return report(ledger, wh) if wh is not None else 0
