"""Packing events into Measurement Protocol requests: same request-level fields, at most 25 events, under 130 kB.

``client_id``, ``user_id`` and ``consent`` apply to every event of a request, so only events that
share them may travel together. Each request gets a deterministic delivery id (a hash of the
warehouse event ids it carries, plus a generation for replays): the same events always make the
same delivery, which is what lets the ledger refuse to take a request twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from .payloads import Outgoing
from .validate import DEFAULT_LIMITS, Limits

__all__ = ["Delivery", "delivery_id", "pack"]

_EVENTS_KEY = ',"events":['


@dataclass(frozen=True, slots=True)
class Delivery:
    """One request body ready to send, and what the ledger must know about it."""

    id: str
    body: str  # compact JSON, exactly what is POSTed
    event_ids: tuple[str, ...]  # the warehouse events it carries
    oldest: float  # epoch seconds of its oldest event: the 72-hour clock runs from here
    mp_events: int


def delivery_id(event_ids: Iterable[str], generation: int = 0) -> str:
    """Deterministic: the same events (in any order) and generation always give the same id."""
    text = "\n".join(sorted(event_ids)) + (f"\n#{generation}" if generation else "")
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def pack(outgoing: Iterable[Outgoing], *, limits: Limits = DEFAULT_LIMITS, generation: int = 0) -> list[Delivery]:
    """Group ``outgoing`` by request-level fields and cut each group into requests within the limits.

    The order of events inside a group is kept. An ``Outgoing`` whose events alone exceed a limit
    still gets a request of its own: the validator, run before every send, dead-letters it.
    """
    groups: dict[tuple[object, ...], list[Outgoing]] = {}
    for item in outgoing:
        groups.setdefault(item.key, []).append(item)
    deliveries: list[Delivery] = []
    for items in groups.values():
        head = _dumps(items[0].common)[:-1] + _EVENTS_KEY  # '{...common' + ',"events":['
        chunk: list[Outgoing] = []
        parts: list[str] = []
        size = len(head.encode()) + 2  # the closing ']}'
        count = 0
        for item in items:
            texts = [_dumps(event) for event in item.events]
            extra = sum(len(t.encode()) + 1 for t in texts)
            if chunk and (count + len(texts) > limits.events_per_request or size + extra >= limits.body_bytes):
                deliveries.append(_delivery(head, chunk, parts, count, generation))
                chunk, parts, count, size = [], [], 0, len(head.encode()) + 2
            chunk.append(item)
            parts += texts
            count += len(texts)
            size += extra
        if chunk:
            deliveries.append(_delivery(head, chunk, parts, count, generation))
    return deliveries


def _delivery(head: str, chunk: list[Outgoing], parts: list[str], count: int, generation: int) -> Delivery:
    ids = tuple(item.event_id for item in chunk)
    return Delivery(
        id=delivery_id(ids, generation),
        body=head + ",".join(parts) + "]}",
        event_ids=ids,
        oldest=min(item.event_time for item in chunk),
        mp_events=count,
    )
