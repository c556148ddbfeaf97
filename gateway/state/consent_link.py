"""The gateway's consent: the in-memory snapshot every path reads, fed by every path that learns consent.

Where consent comes from, and how it reaches the snapshot:

    POST /v1/consent        a ``consent`` row (one per subject) committed to the outbox, then added here
    POST /v1/events, MP     the event's own ``consent`` field (ad_user_data, ad_personalization)
    unsubscribes            ``POST /v1/consent`` with ``"unsubscribe": true``: email_tracking denied
    TCF v2.2 strings        ``POST /v1/consent`` with ``"tcf"``: decoded into the Consent Mode signals

A route adds what it learnt to the snapshot right after the outbox commit, so the very next hit and
the very next GA4 send obey it. The pipeline writes the same decisions to the warehouse's
``consent_events`` (the ledger) after the events, and adds them again (the snapshot keeps a decision
once). At start the snapshot is rebuilt from ``consent_events`` plus what the outbox holds that the
warehouse has not got yet; then, every ``GA4GW_CONSENT_REFRESH`` seconds, it takes what other gateway
instances recorded. Subjects are identifier values: pseudonyms (``em_``, ``rc_``, ``us_``) or GA
client ids, never an email.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from consent import ConsentEvent, ConsentLedger, ConsentPolicy, ConsentSnapshot, InvalidConsent, Purpose
from consent.egress import granted_mask
from gateway.stores.outbox import Outbox
from identity import Pseudonymizer
from warehouse import EVENT_COLUMN_NAMES, EventRow

from .identity_link import identifiers_of

if TYPE_CHECKING:  # only annotations: importing it would load the ClickHouse driver
    from warehouse import Warehouse

__all__ = ["ConsentLink", "consent_events_of"]

log = logging.getLogger(__name__)
_SOURCES = {"consent": "api", "server": "api", "mp": "mp"}
_PURPOSES = frozenset(p.value for p in Purpose)
_VALUES = {"granted": True, "denied": False}
_REFRESH_OVERLAP = timedelta(seconds=30)  # rows another gateway committed late still get picked up
_SOURCE_COLUMN = EVENT_COLUMN_NAMES.index("source")


def consent_events_of(row: EventRow, pseudonymizer: Pseudonymizer) -> list[ConsentEvent]:
    """The decisions a stored row states: a consent row's, or a shop or MP event's own ``consent`` field.

    A hit's ``consent`` map is what the edge applied, not a decision, so opens and clicks state none."""
    source = _SOURCES.get(row.source)
    if source is None or not row.consent:
        return []
    decided = [(Purpose(k), _VALUES[v]) for k, v in row.consent.items() if k in _PURPOSES and v in _VALUES]
    if not decided:
        return []
    source = row.params.get("consent_source", source)
    version, tcf = row.params.get("policy_version", ""), row.params.get("tcf_string", "")
    subjects = [i.value for i in identifiers_of(row, pseudonymizer)]
    try:
        return [
            ConsentEvent(subject, purpose, granted, source, row.event_time, version, tcf, row.event_id)
            for subject in subjects
            for purpose, granted in decided
        ]
    except InvalidConsent:  # checked at the route; a row that still fails names nobody we can find
        return []


class ConsentLink:
    """The snapshot, its loading and refreshing; thread-safe (the edge, the pipeline and the relay read it)."""

    def __init__(
        self,
        policy: ConsentPolicy,
        pseudonymizer: Pseudonymizer,
        *,
        personal_links: bool = True,
        default_region: str = "",
        loaded: bool = False,
    ) -> None:
        self.policy = policy
        self.personal_links = personal_links
        self.default_region = default_region
        self._pseudonymizer = pseudonymizer
        self._snapshot = ConsentSnapshot(policy)
        self._lock = threading.Lock()
        self._arrived: list[ConsentEvent] | None = None
        self._refreshed: datetime | None = None
        self.loaded = loaded  # True: nothing to load (tests, benchmarks); the relay waits until it is

    # Feeding ------------------------------------------------------------------------------------

    def add(self, events: Sequence[ConsentEvent]) -> None:
        if not events:
            return
        with self._lock:
            self._snapshot.add(events)
            if self._arrived is not None:
                self._arrived.extend(events)

    def add_rows(self, rows: Iterable[EventRow]) -> list[ConsentEvent]:
        """Add the decisions of stored rows; returns them (the pipeline writes them to the ledger)."""
        events = [e for row in rows for e in consent_events_of(row, self._pseudonymizer)]
        self.add(events)
        return events

    def events_of(self, rows: Iterable[EventRow]) -> list[ConsentEvent]:
        return [e for row in rows for e in consent_events_of(row, self._pseudonymizer)]

    def load(self, wh: Warehouse, outbox: Outbox | None = None, consumer: str = "warehouse") -> None:
        """Rebuild from the ledger and the outbox's rows the warehouse has not got (at start, in a thread)."""
        with self._lock:
            self._arrived = []
        snapshot = ConsentSnapshot(self.policy)
        started = datetime.now().astimezone()
        snapshot.add(ConsentLedger(wh).events())
        if outbox is not None:
            snapshot.add(self._pending(outbox, consumer))
        with self._lock:
            snapshot.add(self._arrived or ())
            self._snapshot, self._arrived, self.loaded = snapshot, None, True
            self._refreshed = started
        log.info("consent loaded: %d decisions", snapshot.events)

    def _pending(self, outbox: Outbox, consumer: str) -> Iterable[ConsentEvent]:
        position = outbox.position(consumer)
        while records := outbox.read_after(position, 10_000):
            position = records[-1].id
            for record in records:
                if '"granted"' not in record.payload and '"denied"' not in record.payload:
                    continue  # most rows are hits: no decision in them
                try:
                    if json.loads(record.payload)[_SOURCE_COLUMN] not in _SOURCES:
                        continue
                    yield from consent_events_of(EventRow.from_json(record.payload), self._pseudonymizer)
                except (ValueError, TypeError, KeyError, IndexError):
                    continue

    def refresh(self, wh: Warehouse) -> int:
        """Take what was recorded since the last look (other gateways' decisions); returns how many."""
        if self._refreshed is None:
            return 0
        since, started = self._refreshed - _REFRESH_OVERLAP, datetime.now().astimezone()
        events = list(ConsentLedger(wh).events(recorded_since=since))
        with self._lock:
            before = self._snapshot.events
            self._snapshot.add(events)
            self._refreshed = started
            return self._snapshot.events - before

    def forget(self, subjects: Iterable[str]) -> int:
        """Erasure: drop every decision of these subjects from memory; returns how many."""
        with self._lock:
            return self._snapshot.forget(subjects)

    # Reading ------------------------------------------------------------------------------------

    def region(self, known: str) -> str:
        """The region a decision is made for: the one known (a CDN's country header, the event's), else the
        setting's default (empty: unknown, which the policy treats as opt-in)."""
        return (known or self.default_region).strip().upper()[:2]

    @property
    def decisions(self) -> int:
        return self._snapshot.events

    def tracks(self, subjects: Sequence[str], region: str) -> bool:
        """At the edge: may this recipient's open or click be recorded personally (``email_tracking``)?

        An explicit decision wins; without one, a personal link counts as the sender's record of
        consent (``GA4GW_CONSENT_PERSONAL_LINKS``), else the region's default decides."""
        with self._lock:
            decision = self._snapshot.decide(subjects, Purpose.EMAIL_TRACKING, region)
        if decision.reason == "explicit":
            return decision.granted
        return self.personal_links or decision.granted

    def mask(self, subjects: Sequence[str], region: str, *, email: bool) -> int:
        """The purposes granted now (see ``consent.egress``)."""
        with self._lock:
            return granted_mask(self._snapshot, subjects, region, email=email)

    def state(self, subjects: Sequence[str], region: str) -> dict[str, dict[str, object]]:
        """Every purpose's decision for these subjects, and why (``GET /v1/consent``)."""
        with self._lock:
            decisions = self._snapshot.decide_all(subjects, region)
        out: dict[str, dict[str, object]] = {}
        for purpose, d in decisions.items():
            entry: dict[str, object] = {"granted": d.granted, "reason": d.reason, "rule": d.rule}
            if d.event is not None:
                entry.update(source=d.event.source, at=d.event.at.isoformat(), policy_version=d.event.policy_version)
            out[purpose.value] = entry
        return out
