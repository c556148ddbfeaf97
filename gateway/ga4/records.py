"""What the delivery ledger hands out: a due delivery, a dead letter, its status, an outcome to report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DeadLetter", "Due", "LedgerStatus", "Report"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event GA4 will not get as it is, and why."""

    event_id: str
    reason: str
    messages: list[dict[str, Any]]
    body: dict[str, Any]
    event_time: float
    delivery_id: str = ""
    check: list[Any] | None = None  # the consent to ask again before a send: [region, purposes, subjects]


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery claimed for sending."""

    id: str
    body: str
    idx: list[list[Any]]
    oldest: float
    attempts: int  # including this one


@dataclass(frozen=True)
class LedgerStatus:
    """What ``ga4gw ga4 status`` prints."""

    deliveries: dict[str, int]
    events: dict[str, int]
    queued_deliveries: int
    queued_events: int
    lag_seconds: float  # how long the oldest waiting delivery has waited
    oldest_event_age_seconds: float
    dead_letters: dict[str, int]
    replayable: int
    skipped: dict[str, int]
    possible_duplicates: int  # deliveries sent after an attempt that may have arrived
    last_error: str
    position: int


@dataclass(frozen=True, slots=True)
class Report:
    """One row for the warehouse's ``ga4_deliveries``: one event's fate."""

    delivery_id: str
    event_id: str
    event_name: str
    event_time: float
    state: str
    reason: str
    attempts: int
    ambiguous: int
    http_status: int
    created: float
    finished: float
