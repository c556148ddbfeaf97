"""The consent ledger in the warehouse (``consent_events``): append, and load into a snapshot at start."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .model import ConsentEvent
from .policy import ConsentPolicy
from .snapshot import ConsentSnapshot

if TYPE_CHECKING:  # only annotations: importing it would load the ClickHouse driver
    from warehouse import Warehouse

__all__ = ["ConsentLedger", "load_snapshot"]

_TABLE = "consent_events"
_COLUMNS = (
    "event_time", "subject", "purpose", "granted", "source", "policy_version", "tcf_string", "event_id", "recorded_at",
)  # fmt: skip


class ConsentLedger:
    """Appends consent events to the warehouse and reads them back in ledger order."""

    def __init__(self, wh: Warehouse, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._wh = wh
        self._clock = clock
        self._settings: dict[str, object] = {"distributed_foreground_insert": 1} if wh.cluster else {}

    def append(self, events: Iterable[ConsentEvent]) -> int:
        """Insert events; returns how many."""
        now = self._clock()
        rows = [
            (e.at, e.subject, e.purpose.value, e.granted, e.source, e.policy_version, e.tcf_string, e.event_id, now)
            for e in events
        ]
        return self._wh.insert(_TABLE, rows, _COLUMNS, self._settings)

    def events(self, subject: str | None = None, *, recorded_since: datetime | None = None) -> Iterator[ConsentEvent]:
        """Every event (or one subject's, or those recorded since a time: what other gateways added), oldest first."""
        params: dict[str, object] = {"subject": subject} if subject is not None else {}
        where = "WHERE subject = {subject:String}" if subject is not None else ""
        if recorded_since is not None:
            where, params = "WHERE recorded_at >= {since:DateTime64(3, 'UTC')}", {"since": recorded_since}
        rows = self._wh.rows(
            f"SELECT toUnixTimestamp64Milli(event_time), subject, purpose, granted, source, policy_version, "
            f"tcf_string, event_id FROM {_TABLE} {where} ORDER BY event_time, subject, purpose, event_id",
            params,
        )
        for ms, subj, purpose, granted, source, version, tcf, event_id in rows:
            yield ConsentEvent.from_millis(subj, purpose, bool(granted), source, int(ms), version, tcf, event_id)


def load_snapshot(wh: Warehouse, policy: ConsentPolicy | None = None) -> ConsentSnapshot:
    """A snapshot of every stored decision (built at start; then ``add`` as events arrive)."""
    snapshot = ConsentSnapshot(policy)
    snapshot.add(ConsentLedger(wh).events())
    return snapshot
