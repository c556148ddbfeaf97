"""Dead letters: a delivery cut into one letter per warehouse event, the expiry message, clamping old events."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

from consent import Purpose
from consent.egress import BITS

from .ledger import DeadLetter, Due
from .payloads import Outgoing
from .validate import Limits

__all__ = ["SAFETY_SECONDS", "clamp", "consent_check", "dead_letter", "expired_message", "split"]

SAFETY_SECONDS = 300  # "clamp" moves an old event to 72 h minus this, so it is still inside when it lands


def expired_message(limits: Limits) -> dict[str, str]:
    hours = limits.max_age_seconds / 3600
    return {"fieldPath": "events[0].timestamp_micros", "description": f"older than {hours:g} hours when it would be "
            "sent: GA4 would move it or drop it", "validationCode": "VALUE_OUT_OF_BOUNDS"}  # fmt: skip


def dead_letter(item: Outgoing, reason: str, messages: list[dict[str, Any]]) -> DeadLetter:
    return DeadLetter(item.event_id, reason, messages, item.body(), item.event_time)


def clamp(item: Outgoing, now: float, limits: Limits) -> Outgoing:
    floor = math.floor((now - limits.max_age_seconds + SAFETY_SECONDS) * 1_000_000)
    events = tuple({**e, "timestamp_micros": floor} for e in item.events)
    return Outgoing(item.event_id, floor / 1_000_000, item.common, events, item.transaction_id)


def split(due: Due, reason: str, messages: list[dict[str, Any]]) -> list[DeadLetter]:
    """One dead letter per warehouse event of a delivery, each with its own MP events."""
    body = json.loads(due.body)
    common = {k: v for k, v in body.items() if k != "events"}
    letters, offset = [], 0
    for event_id, count, event_time, *check in due.idx:
        events = body["events"][offset : offset + int(count)]
        offset += int(count)
        letter = DeadLetter(event_id, reason, messages, {**common, "events": events}, event_time, due.id)
        letters.append(replace(letter, check=check[0]) if check else letter)
    return letters


def consent_check(body: dict[str, Any]) -> list[Any]:
    """The consent check of a request that was queued without one (a replayed dead letter, an older ledger):
    its subjects are the ids it carries, the purposes granted what it shows (an id: analytics_storage)."""
    identified = "user_id" in body  # without it, the client id is a one-off that names nobody
    subjects = [str(body["user_id"]), str(body.get("client_id", ""))] if identified else []
    mask = BITS[Purpose.ANALYTICS_STORAGE] if identified else 0
    if any(e.get("name") in ("email_open", "email_click") for e in body.get("events", ())):
        mask |= BITS[Purpose.EMAIL_TRACKING]
    signals = body.get("consent") or {}
    for purpose in (Purpose.AD_USER_DATA, Purpose.AD_PERSONALIZATION):
        if signals.get(purpose.value) == "GRANTED":
            mask |= BITS[purpose]
    return ["", mask, subjects]
