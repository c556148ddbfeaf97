"""What consent lets leave the gateway for one event: the purposes granted, as a small bit mask.

Asked twice by the GA4 relay: when it takes an event (what goes into the request) and again just
before each send, so a withdrawal after the click still wins: an event that lost a purpose it was
built with is not sent at all (``withdrawn``).

``email_tracking`` is special. The edge decided it when it recorded the hit (a link the sending
module signed in personal mode is its record of the recipient's consent, unless the ledger says
otherwise), so later it can only be lost by an explicit later denial, never by the region's default.
The Consent Mode purposes are decided from the ledger, else the region's default, at the time asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .model import Purpose
from .snapshot import ConsentSnapshot

__all__ = ["BITS", "MP_RELEVANT", "granted_mask", "has", "withdrawn"]

BITS: dict[Purpose, int] = {p: 1 << i for i, p in enumerate(Purpose)}
# What changes a Measurement Protocol request: whether the person may be sent at all (email tracking for
# email events), identified (analytics_storage) and the two signals MP carries. ad_storage does not.
MP_RELEVANT = (
    BITS[Purpose.EMAIL_TRACKING]
    | BITS[Purpose.ANALYTICS_STORAGE]
    | BITS[Purpose.AD_USER_DATA]
    | BITS[Purpose.AD_PERSONALIZATION]
)


def has(mask: int, purpose: Purpose) -> bool:
    return bool(mask & BITS[purpose])


def granted_mask(
    snapshot: ConsentSnapshot,
    subjects: Sequence[str],
    region: str,
    *,
    email: bool = False,
    at: datetime | None = None,
) -> int:
    """The purposes granted to ``subjects`` (one person's identifiers) as of ``at`` (default: the latest).

    ``email``: the event is an open or click the edge recorded personally, so ``email_tracking`` counts
    as granted unless an explicit decision denies it. For other events the bit is never set."""
    mask = 0
    for purpose in Purpose:
        if purpose is Purpose.EMAIL_TRACKING:
            if not email:
                continue
            decision = snapshot.decide(subjects, purpose, region, at)
            granted = decision.granted if decision.reason == "explicit" else True
        else:
            granted = snapshot.decide(subjects, purpose, region, at).granted
        if granted:
            mask |= BITS[purpose]
    return mask


def withdrawn(before: int, now: int) -> bool:
    """True when a purpose that shaped the request (granted before) is no longer granted."""
    return bool(before & ~now & MP_RELEVANT)
