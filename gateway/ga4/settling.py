"""The settling window: opens and clicks wait ``settle_seconds`` in the outbox so a late verdict still counts.

The classifier may find, seconds after a click, that it was part of a scanner's burst; the edge then records
a ``verdict_revision`` event (``warehouse/verdicts.py``). GA4 cannot un-receive an event, so the relay holds
each open and click until it is ``settle_seconds`` old before taking it, and takes it with the final verdict:
an event revised to a verdict that is not relayed is skipped (``revised``), like any machine hit.

Holding is durable and bounded: the relay's position simply stays before the first open or click still
settling, so nothing leaves the outbox early and a restart holds the same events again. Everything behind
that event in the outbox waits with it (one position per consumer), at most ``settle_seconds``. Revisions
further on in what was read are applied too, so a revision need not be settled itself to count.

A revision that comes after its event was taken (later than the window) cannot be applied; it is counted
as the skip ``revised_after_relay`` when this process relayed the event (the last ``_REMEMBERED`` events it
took are remembered), and otherwise only as ``verdict_revision`` like every revision event.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from gateway.stores.outbox import OutboxRecord
from warehouse import EventRow
from warehouse.verdicts import REVISES_PARAM, REVISION_EVENT, REVISION_SOURCE

__all__ = ["Settling"]

_REMEMBERED = 100_000
_EMAIL = ("open", "click")
_REVISION_MARK = f'"{REVISION_EVENT}"'  # a cheap test before parsing records that are not taken yet


class Settling:
    """What the intake holds back, and the revisions it applies. Used on the relay's thread only."""

    def __init__(self, seconds: float, verdicts: Sequence[str]) -> None:
        self.seconds = seconds
        self._verdicts = frozenset(verdicts)
        self._revised: dict[str, str] = {}  # event id -> final verdict, for events not taken yet
        self._suppressed: OrderedDict[str, None] = OrderedDict()  # taken and skipped as revised
        self._relayed: OrderedDict[str, None] = OrderedDict()  # taken to be sent

    def settle(self, records: Sequence[OutboxRecord], now: float) -> list[tuple[OutboxRecord, EventRow | Exception]]:
        """The records to take now, parsed (or the error that parsing raised), in order."""
        taken: list[tuple[OutboxRecord, EventRow | Exception]] = []
        young = now - self.seconds
        cut = len(records)
        for i, record in enumerate(records):
            try:
                row: EventRow | Exception = EventRow.from_json(record.payload)
            except Exception as exc:  # the relay dead-letters it
                row = exc
            if isinstance(row, EventRow):
                if self.seconds and row.source in _EMAIL and record.created > young:
                    cut = i
                    break
                self._note(row)
            taken.append((record, row))
        for record in records[cut + 1 :]:  # not taken yet, but their revisions apply to what is
            if _REVISION_MARK in record.payload:
                try:
                    self._note(EventRow.from_json(record.payload))
                except Exception:  # noqa: S112 - read again, and dead-lettered, when its turn comes
                    continue
        return taken

    def _note(self, row: EventRow) -> None:
        if row.source == REVISION_SOURCE and row.event_name == REVISION_EVENT:
            revised = row.params.get(REVISES_PARAM, "")
            if revised:
                self._revised[revised] = row.verdict

    def skip(self, row: EventRow) -> str:
        """Why ``row`` is not relayed because of a revision ("" when it is not)."""
        if row.source == REVISION_SOURCE:
            revised = row.params.get(REVISES_PARAM, "")
            self._revised.pop(revised, None)
            if revised in self._suppressed:  # applied: the event was skipped
                del self._suppressed[revised]
                return "verdict_revision"
            if revised in self._relayed:
                del self._relayed[revised]
                if row.verdict not in self._verdicts:
                    return "revised_after_relay"  # GA4 has it already: it cannot un-receive an event
            return "verdict_revision"
        if row.source not in _EMAIL:
            return ""
        final = self._revised.get(row.event_id)
        if final is None or final in self._verdicts:
            return ""
        _remember(self._suppressed, row.event_id)
        return "revised"

    def relayed(self, event_id: str) -> None:
        """``event_id`` was taken to be sent to GA4."""
        _remember(self._relayed, event_id)


def _remember(ids: OrderedDict[str, None], event_id: str) -> None:
    ids[event_id] = None
    if len(ids) > _REMEMBERED:
        ids.popitem(last=False)
