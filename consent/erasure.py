"""Erasure (GDPR art. 17) in the warehouse: every row naming a subject, counted, then deleted; and the audit row.

The gateway resolves who the subject is (identity graph, pseudonyms under every key) and hands over plain strings
(``Subject``); this module knows which column of which table can name a person:

    events                 recipient, user_id, person_id, params['email_pseudonym'], params['recipient_pseudonym']
                           among the person's values; ga_client_id among the devices only they use; or an event id
                           found elsewhere (outbox, ledger). An event of a shared device goes only when it also names
                           the person.
    identity_edges         either side (``kind:value``) among the person's identifiers
    consent_events         subject among the person's values or devices
    ga4_deliveries         the outcomes of the person's events (by event id)
    attribution_touches    the journeys of the person: keyed by one of their values, holding one of their events,
    attribution_credits    or converting with one of their events (``ev:<id>``, ``tx:<transaction id>``)

Channel values and runs are aggregates over everyone and name nobody; the views are computed from these tables.
Each table's rows are counted (``count()``, duplicates not yet merged included) and deleted with a synchronous
mutation (see ``warehouse.erasure_schema``); a table with nothing to delete is not touched.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from warehouse import Warehouse
from warehouse.attribution_schema import ATTRIBUTION_CREDITS, ATTRIBUTION_TOUCHES
from warehouse.consent_schema import CONSENT_EVENTS
from warehouse.erasure_schema import ERASE_SETTINGS, ERASURE_AUDIT, erase_rows
from warehouse.identity_schema import IDENTITY_EDGES
from warehouse.migrate import dialect_for
from warehouse.quarantine import EVENTS_QUARANTINE
from warehouse.schema import EVENTS, GA4_DELIVERIES, Dialect, Table

from .errors import InvalidConsent

__all__ = ["AuditRecord", "Subject", "erase_subject", "new_erasure_id", "record_audit", "subject_events"]

_CHUNK = 2000  # event ids per statement: a server takes parameters in the URL
_REASON_CHARS = 500

_EVENTS_WHERE = (
    "has({people:Array(String)}, recipient) OR has({people:Array(String)}, user_id) "
    "OR has({people:Array(String)}, person_id) OR has({people:Array(String)}, params['email_pseudonym']) "
    "OR has({people:Array(String)}, params['recipient_pseudonym']) OR has({devices:Array(String)}, ga_client_id)"
)


@dataclass(frozen=True)
class Subject:
    """Whom to erase, in the warehouse's terms. Never a shared identifier: the gateway leaves those out."""

    identifiers: frozenset[str]  # the person's identifiers as ``kind:value`` (identity_edges)
    people: frozenset[str]  # values that name only them: pseudonyms, the sender's subscriber keys, person ids
    devices: frozenset[str] = frozenset()  # GA client ids and device ids that only they use
    event_ids: frozenset[str] = frozenset()  # their events found outside the warehouse (outbox, ledger)

    def __post_init__(self) -> None:
        # An empty value would match every row whose column is empty: never let one through.
        if "" in self.people or "" in self.devices or "" in self.identifiers or "" in self.event_ids:
            raise InvalidConsent("an erasure subject's values must not be empty")

    @property
    def values(self) -> list[str]:
        """Every value a consent record or a person key may hold for them."""
        return sorted(self.people | self.devices)

    def event_params(self) -> dict[str, object]:
        """The parameters of the events' condition."""
        return {"people": sorted(self.people), "devices": sorted(self.devices)}


@dataclass(frozen=True)
class AuditRecord:
    """One row of ``erasure_audit``: no personal data (counts only)."""

    erasure_id: str
    requested_by: str
    reason: str
    identifiers: int
    rows: dict[str, int]
    status: str = "done"
    erased_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def new_erasure_id() -> str:
    """A random id (``er_`` + 24 hex digits): nothing about the subject can be read from it."""
    return "er_" + secrets.token_hex(12)


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def subject_events(wh: Warehouse, subject: Subject) -> tuple[set[str], set[str]]:
    """The ids of the subject's events in the warehouse, and the transaction ids among them."""
    d = dialect_for(wh)
    rows = wh.rows(
        f"SELECT DISTINCT event_id, transaction_id FROM {d.qualified(EVENTS.name)} WHERE {_EVENTS_WHERE}",
        subject.event_params(),
    )
    return {str(r[0]) for r in rows}, {str(r[1]) for r in rows if r[1]}


class _Eraser:
    """Counts, then deletes, table by table; ``rows`` collects the counts."""

    def __init__(self, wh: Warehouse, d: Dialect) -> None:
        self.wh = wh
        self.d = d
        self.rows: dict[str, int] = {}

    def erase(self, table: Table, where: str, params: Mapping[str, object]) -> None:
        found = int(self.wh.scalar(f"SELECT count() FROM {self.d.qualified(table.name)} WHERE {where}", params) or 0)
        if found:
            self.wh.command(erase_rows(self.d, table, where), params, ERASE_SETTINGS)
        self.rows[table.name] = self.rows.get(table.name, 0) + found

    def erase_chunked(self, table: Table, where: str, ids: Iterable[str], params: Mapping[str, object]) -> None:
        """``where`` names ``{ids:Array(String)}``; the ids go in chunks (one statement each)."""
        self.rows.setdefault(table.name, 0)
        for chunk in _chunks(sorted(ids)):
            self.erase(table, where, {**params, "ids": chunk})

    def journeys(self, subject: Subject, event_ids: set[str], transactions: set[str]) -> set[str]:
        """Attribution journeys of the subject: keyed by them, holding one of their events, or their conversion."""
        touches = self.d.qualified(ATTRIBUTION_TOUCHES.name)
        found = {f"ev:{e}" for e in event_ids} | {f"tx:{t}" for t in transactions}
        found |= {f"null:{v}" for v in subject.values}
        query = f"SELECT DISTINCT journey_id FROM {touches} WHERE has({{values:Array(String)}}, person_key)"
        found |= {str(r[0]) for r in self.wh.rows(query, {"values": subject.values})}
        for chunk in _chunks(sorted(event_ids)):
            query = f"SELECT DISTINCT journey_id FROM {touches} WHERE has({{ids:Array(String)}}, touch_event_id)"
            found |= {str(r[0]) for r in self.wh.rows(query, {"ids": chunk})}
        return found


def erase_subject(wh: Warehouse, subject: Subject, event_ids: set[str], transactions: set[str]) -> dict[str, int]:
    """Delete every row naming ``subject``; returns the rows deleted per table (0 included).

    ``event_ids`` and ``transactions`` are what ``subject_events`` found (plus ``subject.event_ids``); the events
    themselves go last, so that a failure half-way leaves them to find again on the next attempt.
    """
    eraser = _Eraser(wh, dialect_for(wh))
    values = {"values": subject.values}
    journeys = eraser.journeys(subject, event_ids, transactions)
    for table, column in ((ATTRIBUTION_TOUCHES, "journey_id"), (ATTRIBUTION_CREDITS, "conversion_id")):
        eraser.erase(table, "has({values:Array(String)}, person_key)", values)
        eraser.erase_chunked(table, f"has({{ids:Array(String)}}, {column})", journeys, {})
    eraser.erase_chunked(GA4_DELIVERIES, "has({ids:Array(String)}, event_id)", event_ids, {})
    eraser.erase(CONSENT_EVENTS, "has({values:Array(String)}, subject)", values)
    keys = {"keys": sorted(subject.identifiers)}
    either_side = (
        "has({keys:Array(String)}, concat(a_kind, ':', a_value)) OR has({keys:Array(String)}, "
        "concat(b_kind, ':', b_value))"
    )
    eraser.erase(IDENTITY_EDGES, either_side, keys)
    # Rows the warehouse refused keep the outbox payload as text: the subject's values appear in it quoted.
    if subject.values:
        quoted = {"quoted": [f'"{v}"' for v in subject.values]}
        eraser.erase(EVENTS_QUARANTINE, "multiSearchAny(payload, {quoted:Array(String)})", quoted)
    eraser.erase(EVENTS, _EVENTS_WHERE, subject.event_params())
    extra = subject.event_ids - event_ids  # found in the outbox or ledger only: may have arrived since
    eraser.erase_chunked(EVENTS, "has({ids:Array(String)}, event_id)", extra, {})
    return eraser.rows


def record_audit(wh: Warehouse, record: AuditRecord) -> None:
    """Append the audit row (``reason`` is cut to 500 characters)."""
    d = dialect_for(wh)
    row = (record.erased_at, record.erasure_id, record.requested_by, record.reason[:_REASON_CHARS],
           record.identifiers, record.rows, record.status)  # fmt: skip
    settings = {"distributed_foreground_insert": 1} if wh.cluster else {}
    wh.insert(d.qualified(ERASURE_AUDIT.name), [row], [name for name, _ in ERASURE_AUDIT.columns], settings)
