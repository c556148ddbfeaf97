"""What the classifier reads and answers: a :class:`Hit`, its :class:`Verdict`, and the :class:`Revision` of an
earlier hit's verdict when a later hit shows it was a machine's (``machine.py`` decides, ``bursts.py`` remembers).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

__all__ = ["MACHINE_KINDS", "Hit", "Kind", "Revision", "Verdict"]


class Kind(StrEnum):
    """Who made a hit."""

    HUMAN = "human"
    APPLE_MPP = "apple_mpp"
    IMAGE_PROXY = "image_proxy"
    SCANNER = "scanner"
    PREFETCH = "prefetch"
    UNKNOWN = "unknown"


PEOPLE = frozenset({Kind.HUMAN, Kind.IMAGE_PROXY})
# No person was behind the hit; ``unknown`` is neither a machine nor a person.
MACHINE_KINDS = frozenset({Kind.SCANNER, Kind.PREFETCH, Kind.APPLE_MPP})


@dataclass(frozen=True, slots=True)
class Hit:
    """One open or click as the edge saw it. Header names are expected lower-case (any case works).

    ``event_id`` names the stored event, so that a later burst can revise this hit's verdict; a hit without
    one is still remembered for bursts but never revised.
    """

    kind: Literal["open", "click"]
    method: str
    headers: Mapping[str, str]
    ip: str
    campaign_id: str
    recipient: str
    link_id: str | None
    send_time: datetime | None
    now: datetime
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class Revision:
    """A later burst showed that an earlier hit was a machine's: its new verdict, with every reason kept.

    ``reasons`` are the hit's own reasons plus ``revised:<rule>``; ``at`` is when the revised hit happened
    (epoch seconds).
    """

    event_id: str
    kind: Literal["open", "click"]
    campaign_id: str
    link_id: str
    at: float
    previous: Kind
    verdict: Kind
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classification of one hit, with short stable reason codes.

    ``revisions`` are the earlier hits this one showed to be a machine's (a burst it completed); the edge
    records them beside the hit. They do not take part in equality: a verdict is its kind and reasons.
    """

    kind: Kind
    reasons: tuple[str, ...]
    revisions: tuple[Revision, ...] = field(default=(), compare=False)

    @property
    def is_human(self) -> bool:
        """True when a person is behind the hit: a human, or an image proxy fetching as they open."""
        return self.kind in PEOPLE
