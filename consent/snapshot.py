"""The in-memory consent snapshot the hot path reads: subject -> purpose -> decisions in ledger order.

Built from the ledger's events in their total order (``ConsentEvent.order``: time, a denial after a
grant of the same millisecond, then source and event id), so any arrival order gives the same state.
Adding an event is a dict lookup and a list insert; reading is a dict lookup and, for a past time, a
bisection. No ClickHouse on the way.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .model import ConsentEvent, Purpose
from .policy import ConsentPolicy

__all__ = ["ConsentSnapshot", "Decision"]


@dataclass(frozen=True)
class Decision:
    """The answer for one subject and purpose, and why."""

    purpose: Purpose
    granted: bool
    reason: str  # "explicit": an event decided it; "default": no event, the region's rule did
    rule: str  # "opt_in" or "opt_out": the region's default rule
    event: ConsentEvent | None  # the deciding event when explicit


class ConsentSnapshot:
    """Every subject's decisions, with the policy that answers when there are none."""

    def __init__(self, policy: ConsentPolicy | None = None) -> None:
        self.policy = policy or ConsentPolicy()
        self._history: dict[str, dict[Purpose, list[tuple[tuple[int, int, str, str], ConsentEvent]]]] = {}
        self.events = 0

    def add(self, events: Iterable[ConsentEvent]) -> None:
        """Take events in any order; exact duplicates (same order key) are kept once."""
        for event in events:
            per_purpose = self._history.setdefault(event.subject, {})
            history = per_purpose.setdefault(event.purpose, [])
            item = (event.order, event)
            if history and item[0] > history[-1][0]:
                history.append(item)  # the usual case: events arrive in time order
            else:
                at = bisect.bisect_left(history, item[0], key=lambda x: x[0])
                if at < len(history) and history[at][0] == item[0]:
                    continue
                history.insert(at, item)
            self.events += 1

    def forget(self, subjects: Iterable[str]) -> int:
        """Drop every decision of ``subjects`` (erasure); returns how many events were dropped. They then get the
        region's default again, as someone never seen."""
        dropped = 0
        for subject in set(subjects):
            per_purpose = self._history.pop(subject, None)
            if per_purpose:
                dropped += sum(len(history) for history in per_purpose.values())
        self.events -= dropped
        return dropped

    def latest(self, subject: str, purpose: Purpose, at: datetime | None = None) -> ConsentEvent | None:
        """The subject's deciding event for ``purpose`` (as of ``at`` when given), or None."""
        history = self._history.get(subject, {}).get(purpose)
        if not history:
            return None
        if at is None:
            return history[-1][1]
        ms = round(at.timestamp() * 1000)
        i = bisect.bisect_right(history, ms, key=lambda x: x[0][0])
        return history[i - 1][1] if i else None

    def decide(
        self, subjects: str | Sequence[str], purpose: Purpose, region: str, at: datetime | None = None
    ) -> Decision:
        """Granted or denied, and why. ``subjects`` may be several pseudonyms of one person (all of their
        identifiers, or every key's pseudonym during a rotation): the latest event among them decides."""
        if isinstance(subjects, str):
            subjects = (subjects,)
        found = [e for e in (self.latest(s, purpose, at) for s in subjects) if e is not None]
        granted, rule = self.policy.default(purpose, region)
        if not found:
            return Decision(purpose, granted, "default", rule, None)
        event = max(found, key=lambda e: e.order)
        return Decision(purpose, event.granted, "explicit", rule, event)

    def decide_all(
        self, subjects: str | Sequence[str], region: str, at: datetime | None = None
    ) -> dict[Purpose, Decision]:
        """A decision for every purpose (what an event records as its consent snapshot)."""
        return {p: self.decide(subjects, p, region, at) for p in Purpose}

    def state(self) -> dict[str, dict[str, tuple[bool, int]]]:
        """subject -> purpose -> (granted, millis) of the latest event (for tests and exports)."""
        return {
            s: {p.value: (h[-1][1].granted, h[-1][0][0]) for p, h in per.items()} for s, per in self._history.items()
        }
