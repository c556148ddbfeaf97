"""Consent purposes and the consent event, the unit of the append-only ledger.

Subjects are pseudonyms (or the sending module's opaque subscriber key), never a raw email.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import InvalidConsent

__all__ = ["SOURCES", "ConsentEvent", "Purpose", "parse_purposes", "unsubscribe_event"]


class Purpose(enum.StrEnum):
    """What a person can grant or deny. The last four are Google's Consent Mode v2 signals."""

    EMAIL_TRACKING = "email_tracking"  # personal open and click tracking (ePrivacy: its own purpose)
    ANALYTICS_STORAGE = "analytics_storage"
    AD_STORAGE = "ad_storage"
    AD_USER_DATA = "ad_user_data"
    AD_PERSONALIZATION = "ad_personalization"


SOURCES: tuple[str, ...] = ("api", "mp", "unsubscribe", "tcf")
_SOURCE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SUBJECT = re.compile(r"^[\x21-\x5b\x5d-\x7e]{1,256}$")


def parse_purposes(text: str) -> frozenset[Purpose]:
    """Read a comma-separated list of purpose names (settings)."""
    names = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [n for n in names if n not in Purpose.__members__.values()]
    if unknown:
        raise InvalidConsent(f"unknown purpose {unknown[0]!r} (purposes: {', '.join(p.value for p in Purpose)})")
    return frozenset(Purpose(n) for n in names)


@dataclass(frozen=True)
class ConsentEvent:
    """One decision: ``subject`` granted or denied ``purpose`` at ``at`` (UTC), from ``source``."""

    subject: str
    purpose: Purpose
    granted: bool
    source: str
    at: datetime
    policy_version: str = ""
    tcf_string: str = ""
    event_id: str = ""

    def __post_init__(self) -> None:
        if not _SUBJECT.match(self.subject):
            raise InvalidConsent("a consent subject is a pseudonym: 1-256 printable characters, no spaces")
        if not isinstance(self.purpose, Purpose):
            if self.purpose not in Purpose.__members__.values():
                raise InvalidConsent(f"unknown purpose {self.purpose!r}")
            object.__setattr__(self, "purpose", Purpose(self.purpose))
        if not _SOURCE.match(self.source):
            raise InvalidConsent(f"consent source {self.source!r} is not a lower-case name")
        if self.at.tzinfo is None:
            raise InvalidConsent("a consent event's time must be timezone-aware (UTC)")

    @property
    def millis(self) -> int:
        return round(self.at.timestamp() * 1000)

    @property
    def order(self) -> tuple[int, int, str, str]:
        """The ledger's total order: time, then a denial after a grant of the same millisecond (the
        cautious reading of a tie), then source and event id so that replays always agree."""
        return (self.millis, 0 if self.granted else 1, self.source, self.event_id)

    @classmethod
    def from_millis(
        cls, subject: str, purpose: str, granted: bool, source: str, millis: int, *extra: str
    ) -> ConsentEvent:
        return cls(subject, Purpose(purpose), granted, source, datetime.fromtimestamp(millis / 1000, UTC), *extra)


def unsubscribe_event(subject: str, at: datetime, event_id: str = "", policy_version: str = "") -> ConsentEvent:
    """An unsubscribe is a denial of personal email tracking from then on."""
    return ConsentEvent(subject, Purpose.EMAIL_TRACKING, False, "unsubscribe", at, policy_version, "", event_id)
