"""The identity graph's data: typed identifiers and the edges that join two of them.

An identifier is a kind and a value. Values are pseudonyms (emails, CRM ids, user ids), the sending
module's opaque subscriber key (``recipient``), or device ids the browser already holds (GA client id,
other cookie or device ids): never a raw email, phone or CRM id. Its text form, ``kind:value``, is
what the warehouse stores and the CLI accepts.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import InvalidIdentifier

__all__ = ["PERSON_KINDS", "SOURCES", "Edge", "Identifier", "Kind", "rotation_edges"]


class Kind(enum.StrEnum):
    """What an identifier is. Person kinds name one person; device kinds may be shared by several."""

    RECIPIENT = "recipient"  # the sending module's subscriber key (kept as given, never sent to GA4)
    EMAIL = "email"  # keyed pseudonym of a normalised email (em_<kid>_...)
    CRM = "crm"  # keyed pseudonym of the shop's CRM customer id
    USER = "user"  # keyed pseudonym of the site's login user id
    GA_CLIENT = "ga_client"  # the GA4 client id from the site's _ga cookie
    DEVICE = "device"  # any other cookie or device id


PERSON_KINDS: tuple[Kind, ...] = (Kind.RECIPIENT, Kind.EMAIL, Kind.CRM, Kind.USER)

# Where edges come from; other lower-case names are accepted too (a new ingest path needs no change here).
SOURCES: tuple[str, ...] = ("click_ga_cookie", "landing_token", "server_event", "mp_ingest", "key_rotation")

# Values end up in TSV, logs and the CLI: printable, no whitespace, no backslash, bounded.
_VALUE = re.compile(r"^[\x21-\x5b\x5d-\x7e]{1,256}$")
_KINDS = frozenset(k.value for k in Kind)
_SOURCE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True, order=True)
class Identifier:
    """One identifier: its kind and its value (a pseudonym or an opaque id)."""

    kind: Kind
    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.kind, Kind):
            try:
                object.__setattr__(self, "kind", Kind(self.kind))
            except ValueError:
                raise InvalidIdentifier(f"unknown identifier kind {self.kind!r}", str(self.kind)) from None
        if not _VALUE.match(self.value):
            raise InvalidIdentifier(
                "an identifier value is 1-256 printable characters without spaces or backslashes", self.value
            )

    @property
    def key(self) -> str:
        """The text form ``kind:value``."""
        return f"{self.kind.value}:{self.value}"

    @classmethod
    def parse(cls, text: str) -> Identifier:
        """Read ``kind:value`` (the CLI's and the warehouse's form)."""
        kind, sep, value = text.partition(":")
        if not sep:
            raise InvalidIdentifier(f"{text!r} is not kind:value (kinds: {', '.join(k.value for k in Kind)})", text)
        if kind not in _KINDS:
            raise InvalidIdentifier(f"unknown identifier kind {kind!r} in {text!r}", text)
        return cls(Kind(kind), value)

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class Edge:
    """Two identifiers seen together, where (``source``) and when (``at``, UTC)."""

    a: Identifier
    b: Identifier
    source: str
    at: datetime

    def __post_init__(self) -> None:
        if not _SOURCE.match(self.source):
            raise InvalidIdentifier(f"edge source {self.source!r} is not a lower-case name", self.source)
        if self.at.tzinfo is None:
            raise InvalidIdentifier("an edge's time must be timezone-aware (UTC)", self.at.isoformat())
        if self.a == self.b:
            raise InvalidIdentifier("an edge joins two different identifiers", self.a.key)

    @property
    def millis(self) -> int:
        """The edge's time in milliseconds since the epoch."""
        return round(self.at.timestamp() * 1000)

    @classmethod
    def from_millis(cls, a: Identifier, b: Identifier, source: str, millis: int) -> Edge:
        return cls(a, b, source, datetime.fromtimestamp(millis / 1000, UTC))


def rotation_edges(kind: Kind, candidates: list[str], at: datetime) -> list[Edge]:
    """Edges joining a raw identifier's pseudonym under the newest key to those under older keys.

    ``candidates`` is ``Pseudonymizer.candidates(...)`` (newest first). Recording these once a raw
    identifier is seen during a key rotation keeps the person's history joined across the change.
    """
    if not candidates:
        return []
    newest = Identifier(kind, candidates[0])
    return [Edge(newest, Identifier(kind, old), "key_rotation", at) for old in candidates[1:] if old != candidates[0]]
