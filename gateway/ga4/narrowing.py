"""Before a send: the events of a delivery that must not go as they are leave it, the rest goes on.

Three reasons, asked in this order by the relay's sender:

withdrawn  consent asked again (``PayloadBuilder.withdrawn``): an event that lost a purpose it was built
           with (a withdrawal, an unsubscribe, after the click) is not sent, nor kept as a dead letter
expired    an event that would land past GA4's 72 hours: a dead letter (or clamped, by setting)
invalid    the validator refused the request: its invalid events become dead letters with their own
           messages; the request-level fields the others share were valid for them

The delivery keeps its id with what is left; with nothing left it is dead.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gateway.telemetry.metrics import Metrics

from .ledger import DeadLetter, Due, Ledger
from .letters import SAFETY_SECONDS, consent_check, expired_message, split
from .validate import Limits, validate

__all__ = ["Narrowing"]

log = logging.getLogger(__name__)
WITHDRAWN = "consent_withdrawn"


class Narrowing:
    """The relay's trimming of a due delivery; ``dequeued`` is called when a delivery is left empty (dead)."""

    def __init__(
        self,
        limits: Limits,
        expired: str,
        withdrawn: Callable[[list[Any]], bool],
        metrics: Metrics,
        dequeued: Callable[[], None],
    ) -> None:
        self._limits = limits
        self._clamp = expired == "clamp"
        self._withdrawn = withdrawn
        self._metrics = metrics
        self._dequeued = dequeued

    def withdraw(self, ledger: Ledger, due: Due) -> Due | None:
        # The usual case costs no parsing: every event carries its check and none lost anything.
        if all(len(entry) > 3 and not self._withdrawn(entry[3]) for entry in due.idx):
            return due
        letters = split(due, WITHDRAWN, [])
        keep = [x for x in letters if not self._withdrawn(x.check or consent_check(x.body))]
        if len(keep) == len(letters):
            return due
        count = len(letters) - len(keep)
        ledger.skip(WITHDRAWN, count)
        self._metrics.inc("ga4gw_ga4_events_total", count, outcome="skipped", reason=WITHDRAWN)
        log.info("GA4 request %s: %d events not sent, their consent was withdrawn", due.id, count)
        return self._narrow(ledger, due, keep, [], WITHDRAWN)

    def expire(self, ledger: Ledger, due: Due, now: float) -> Due | None:
        limits = self._limits
        oldest = now - limits.max_age_seconds + 1
        if due.oldest >= oldest:
            return due
        if self._clamp:
            body = json.loads(due.body)
            floor = math.floor((now - limits.max_age_seconds + SAFETY_SECONDS) * 1_000_000)
            for event in body["events"]:
                event["timestamp_micros"] = max(int(event.get("timestamp_micros", floor)), floor)
            text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            ledger.rewrite(due, text, due.idx, now, [])
            return Due(due.id, text, due.idx, now, due.attempts)
        letters = split(due, "expired", [expired_message(limits)])
        keep = [letter for letter in letters if letter.event_time >= oldest]
        return self._narrow(ledger, due, keep, [x for x in letters if x.event_time < oldest], "expired")

    def isolate(self, ledger: Ledger, due: Due, now: float) -> Due | None:
        keep, invalid = [], []
        for letter in split(due, "invalid", []):
            messages = validate(letter.body, now=now, limits=self._limits)
            if messages:
                invalid.append(replace(letter, messages=[m.as_json() for m in messages]))
            else:
                keep.append(letter)
        return self._narrow(ledger, due, keep, invalid, "invalid")

    def _narrow(
        self, ledger: Ledger, due: Due, keep: list[DeadLetter], dead: list[DeadLetter], reason: str
    ) -> Due | None:
        """The delivery goes on with the events of ``keep`` (same id); ``dead`` become dead letters.

        None when no event is left (the delivery is then dead)."""
        if dead:
            self._metrics.inc("ga4gw_ga4_events_total", len(dead), outcome="dead", reason=reason)
        if not keep:
            ledger.kill(due, reason, dead)
            self._dequeued()
            log.warning("GA4 request %s is dead (%s): %d events kept as dead letters", due.id, reason, len(dead))
            return None
        common = {k: v for k, v in keep[0].body.items() if k != "events"}
        body = {**common, "events": [event for letter in keep for event in letter.body["events"]]}
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        idx: list[list[Any]] = [
            [x.event_id, len(x.body["events"]), x.event_time, *([x.check] if x.check else [])] for x in keep
        ]
        oldest = min(x.event_time for x in keep)
        ledger.rewrite(due, text, idx, oldest, dead)
        return Due(due.id, text, idx, oldest, due.attempts)
