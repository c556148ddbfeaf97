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
mutation (see ``warehouse.erasure_schema``); a table with nothing to delete is not touched. The values looked for
are read from a key table (``ErasureKeys``), never written into a statement: a mutation's text stays in
``system.mutations`` and on disk after it finished.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from warehouse import WarehouseError
from warehouse.attribution_schema import ATTRIBUTION_CREDITS, ATTRIBUTION_TOUCHES
from warehouse.consent_schema import CONSENT_EVENTS
from warehouse.ddl import Dialect, Table
from warehouse.erasure_schema import ERASURE_AUDIT, ErasureKeys, erase_rows
from warehouse.identity_schema import IDENTITY_EDGES
from warehouse.migrate import dialect_for
from warehouse.quarantine import EVENTS_QUARANTINE
from warehouse.schema import EVENTS, GA4_DELIVERIES

from .errors import ErasureStepFailed, InvalidConsent

if TYPE_CHECKING:  # only annotations: importing it would load the ClickHouse driver
    from warehouse import Warehouse

__all__ = ["AuditRecord", "Subject", "erase_subject", "new_erasure_id", "record_audit", "subject_events"]

_REASON_CHARS = 500


def _events_where(keys: ErasureKeys) -> str:
    """The condition on ``events``: a person's value in any column that can name them, or a device of theirs."""
    people = [keys.isin(c, "people") for c in ("recipient", "user_id", "person_id", "params['email_pseudonym']",
                                               "params['recipient_pseudonym']")]  # fmt: skip
    return " OR ".join([*people, keys.isin("ga_client_id", "devices")])


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


def subject_events(wh: Warehouse, subject: Subject) -> tuple[set[str], set[str]]:
    """The ids of the subject's events in the warehouse, and the transaction ids among them."""
    d = dialect_for(wh)
    with ErasureKeys(wh, d) as keys:
        keys.add("people", subject.people)
        keys.add("devices", subject.devices)
        rows = wh.rows(f"SELECT DISTINCT event_id, transaction_id FROM {d.qualified(EVENTS.name)} "
                       f"WHERE {_events_where(keys)}")  # fmt: skip
    return {str(r[0]) for r in rows}, {str(r[1]) for r in rows if r[1]}


class _Eraser:
    """Counts, then deletes, table by table; ``rows`` collects the counts, ``step`` names the table at work."""

    def __init__(self, wh: Warehouse, d: Dialect, keys: ErasureKeys) -> None:
        self.wh = wh
        self.d = d
        self.keys = keys
        self.rows: dict[str, int] = {}
        self.step = ""

    def erase(self, table: Table, where: str) -> None:
        self.step = table.name
        found = int(self.wh.scalar(f"SELECT count() FROM {self.d.qualified(table.name)} WHERE {where}") or 0)
        if found:
            self.wh.command(erase_rows(self.d, table, where), settings=self.keys.settings)
        self.rows[table.name] = self.rows.get(table.name, 0) + found

    def journeys(self) -> None:
        """Put in ``journeys`` the attribution journeys of the subject: keyed by them, holding one of their events,
        or converting with one of their events (``ids`` and ``journeys`` already hold ``ev:``/``tx:``/``null:``)."""
        self.step = ATTRIBUTION_TOUCHES.name
        touches = self.d.qualified(ATTRIBUTION_TOUCHES.name)
        where = f"{self.keys.isin('person_key', 'values')} OR {self.keys.isin('touch_event_id', 'ids')}"
        found = self.wh.rows(f"SELECT DISTINCT journey_id FROM {touches} WHERE {where}")
        self.keys.add("journeys", (str(r[0]) for r in found))


def erase_subject(wh: Warehouse, subject: Subject, event_ids: set[str], transactions: set[str]) -> dict[str, int]:
    """Delete every row naming ``subject``; returns the rows deleted per table (0 included).

    ``event_ids`` and ``transactions`` are what ``subject_events`` found (plus ``subject.event_ids``); the events
    themselves go last, so that a failure half-way leaves them to find again on the next attempt. A failure raises
    ``ErasureStepFailed`` with the table at fault and the rows deleted before it.
    """
    d = dialect_for(wh)
    with ErasureKeys(wh, d) as keys:
        eraser = _Eraser(wh, d, keys)
        try:
            _erase_all(eraser, keys, subject, event_ids, transactions)
        except WarehouseError as exc:
            raise ErasureStepFailed(eraser.step, eraser.rows) from exc
    return eraser.rows


def _erase_all(
    eraser: _Eraser, keys: ErasureKeys, subject: Subject, event_ids: set[str], transactions: set[str]
) -> None:
    eraser.step = "keys"
    keys.add("people", subject.people)
    keys.add("devices", subject.devices)
    keys.add("values", subject.values)
    keys.add("identifiers", subject.identifiers)
    keys.add("ids", event_ids)
    keys.add("extra_ids", subject.event_ids - event_ids)  # found in the outbox or ledger only: may have arrived since
    found = {f"ev:{e}" for e in event_ids} | {f"tx:{t}" for t in transactions} | {f"null:{v}" for v in subject.values}
    keys.add("journeys", found)
    eraser.journeys()
    for table, column in ((ATTRIBUTION_TOUCHES, "journey_id"), (ATTRIBUTION_CREDITS, "conversion_id")):
        eraser.erase(table, f"{keys.isin('person_key', 'values')} OR {keys.isin(column, 'journeys')}")
    eraser.erase(GA4_DELIVERIES, keys.isin("event_id", "ids"))
    eraser.erase(CONSENT_EVENTS, keys.isin("subject", "values"))
    sides = [keys.isin(f"concat({side}_kind, ':', {side}_value)", "identifiers") for side in ("a", "b")]
    either_side = " OR ".join(sides)
    eraser.erase(IDENTITY_EDGES, either_side)
    # Rows the warehouse refused keep the outbox payload as text: the subject's values appear in it quoted.
    keys.add("quoted", {f'"{v}"' for v in subject.values})
    eraser.erase(EVENTS_QUARANTINE, f"arrayExists(q -> position(payload, q) > 0, {keys.array('quoted')})")
    eraser.erase(EVENTS, f"{_events_where(keys)} OR {keys.isin('event_id', 'extra_ids')}")


def record_audit(wh: Warehouse, record: AuditRecord) -> None:
    """Append the audit row (``reason`` is cut to 500 characters; what is not valid UTF-8 in it becomes "?", so
    that no text can keep the row of an erasure already done from being written)."""
    d = dialect_for(wh)
    reason = record.reason[:_REASON_CHARS].encode("utf-8", "replace").decode("utf-8")
    row = (record.erased_at, record.erasure_id, record.requested_by, reason,
           record.identifiers, record.rows, record.status)  # fmt: skip
    settings = {"distributed_foreground_insert": 1} if wh.cluster else {}
    wh.insert(d.qualified(ERASURE_AUDIT.name), [row], [name for name, _ in ERASURE_AUDIT.columns], settings)
