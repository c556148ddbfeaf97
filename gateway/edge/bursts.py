"""Bursts across addresses: the recent hits of each email and of each network, and revising earlier verdicts.

Scanners hide behind ordinary browser strings and spread their fetches over many addresses (one per link is
common: Safe Links, Mimecast and Proofpoint detonate links from pools), so the pattern is what gives them
away, not the address. Two rules, per campaign:

* ``link_burst``: ``burst_links`` distinct links of one recipient clicked within ``burst_window_seconds``,
  whatever the addresses (an anonymous hit has no recipient: its address stands in). A person reading along
  clicks one link, comes back, clicks another; seconds apart at the very least.
* ``network_burst``: clicks of ``network_recipients`` distinct recipients from one network (an IPv4 /24 or an
  IPv6 /48) within ``network_window_seconds``. People behind one office or carrier address click at their own
  pace; a scanner checks every recipient's copy as it arrives. Image proxy and Apple fetches never count (they
  are many people behind one network by design).

The hit that completes a burst is a ``scanner`` at once. The earlier hits of the burst (the recipient's
clicks and opens inside the window, or the network's) were judged before the burst existed: each one whose
verdict was a person's or ``unknown`` is revised to ``scanner``, keeping its reasons plus ``revised:<rule>``,
once. ``machine.Classifier`` returns the revisions with the verdict; the edge records them through the outbox.

Memory is bounded twice: at most ``entries`` emails and ``entries`` (campaign, network) pairs, least recently
active evicted first, each holding at most a few windows' worth of hits (older ones are dropped as new ones
come). Not thread-safe, like the classifier that owns it.
"""

import ipaddress
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from .verdicts import Kind, Revision

__all__ = ["Activity", "BurstRules", "Bursts", "Seen"]

_REVISABLE = frozenset({Kind.HUMAN, Kind.UNKNOWN})
_V4_SHIFT = 8  # /24
_V6_SHIFT = 80  # /48


@dataclass(frozen=True, slots=True)
class BurstRules:
    """The sizes and windows of the two burst rules, and how many emails and networks are remembered."""

    window_seconds: float
    links: int
    network_window_seconds: float
    network_recipients: int
    entries: int


# One remembered hit: (at, kind, event_id, campaign_id, link_id, who, counts, verdict, reasons). A plain tuple of
# strings and numbers on purpose: the garbage collector stops tracking such tuples, and hundreds of thousands of
# tracked objects would make every collection (and so every hit) slower. ``who`` is the recipient, or the
# address of an anonymous hit; ``counts`` says whether a click counts towards a network burst. Whether a hit was
# revised is kept apart, in ``Bursts._revised``.
Seen = tuple[float, str, str, str, str, str, bool, Kind, tuple[str, ...]]
_AT: Final = 0
_KIND: Final = 1
_ID: Final = 2
_CAMPAIGN: Final = 3
_LINK: Final = 4
_WHO: Final = 5
_COUNTS: Final = 6
_VERDICT: Final = 7
_REASONS: Final = 8


class Activity:
    """What the memory holds for one (campaign, recipient): whether it was opened, and its recent hits."""

    __slots__ = ("hits", "opened")

    def __init__(self) -> None:
        self.opened = False
        self.hits: tuple[Seen, ...] = ()  # a tuple, not a list: see Seen


def network_of(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> int | None:
    """The /24 (IPv4) or /48 (IPv6) an address belongs to, as a number unique across both families."""
    if address is None:
        return None
    if address.version == 4:
        return int(address) >> _V4_SHIFT
    return -(int(address) >> _V6_SHIFT) - 1  # negative: never equal to an IPv4 network


def _recent(hits: tuple[Seen, ...], now: float, window: float, keep: int, seen: Seen) -> tuple[Seen, ...]:
    """The hits still inside the window, at most ``keep`` of them, then ``seen``."""
    # abs(): out-of-order arrivals (several workers, clock steps) must not revive or join old hits.
    kept = [hit for hit in hits if abs(now - hit[_AT]) <= window]
    return (*kept[-keep:], seen)


class Bursts:
    """The recent hits per email and per network, and the two burst rules over them."""

    def __init__(self, rules: BurstRules) -> None:
        self._rules = rules
        # Enough to hold a burst even when the same email's opens or other addresses come in between.
        self._keep = 4 * rules.links
        self._network_keep = 4 * rules.network_recipients
        self._emails: OrderedDict[tuple[str, str, str], Activity] = OrderedDict()
        self._networks: OrderedDict[tuple[str, int], tuple[Seen, ...]] = OrderedDict()
        self._revised: OrderedDict[str, None] = OrderedDict()  # event ids already revised (bounded like the rest)

    def __len__(self) -> int:
        return len(self._emails)

    @property
    def networks(self) -> int:
        """How many (campaign, network) entries are remembered."""
        return len(self._networks)

    def activity(self, key: tuple[str, str, str]) -> Activity:
        """The entry of one email (campaign, recipient, address of an anonymous hit), made most recent."""
        emails = self._emails
        activity = emails.get(key)
        if activity is None:
            activity = emails[key] = Activity()
            if len(emails) > self._rules.entries:
                emails.popitem(last=False)
        else:
            emails.move_to_end(key)
        return activity

    def forget(self, recipients: Iterable[str]) -> int:
        """Erasure: drop what is remembered of ``recipients``; returns how many email entries went."""
        gone = set(recipients)
        keys = [key for key in self._emails if key[1] in gone]
        for key in keys:
            del self._emails[key]
        for network, hits in list(self._networks.items()):
            left = tuple(seen for seen in hits if seen[_WHO] not in gone)
            if left:
                self._networks[network] = left
            else:
                del self._networks[network]
        return len(keys)

    def observe(self, activity: Activity | None, network: int | None, seen: Seen) -> tuple[str, tuple[Seen, ...]]:
        """Remember ``seen``; when it completes a burst, the rule's code and the earlier hits of the burst."""
        rules = self._rules
        rule: str = ""
        group: tuple[Seen, ...] = ()
        at, is_click, counts = seen[_AT], seen[_KIND] == "click", seen[_COUNTS]
        if activity is not None:
            hits = activity.hits = _recent(activity.hits, at, rules.window_seconds, self._keep - 1, seen)
            if is_click and len(hits) >= rules.links:
                links = {s[_LINK] for s in hits if s[_KIND] == "click"}
                if len(links) >= rules.links:
                    rule, group = "link_burst", hits[:-1]
        if network is not None:
            key = (seen[_CAMPAIGN], network)
            networks = self._networks
            bucket = networks.get(key)
            if bucket is None:
                if not counts:  # an open from a network no click came from: nothing to remember
                    return rule, group
                if len(networks) >= rules.entries:
                    networks.popitem(last=False)
                networks[key] = (seen,)
                return rule, group
            networks.move_to_end(key)
            window = rules.network_window_seconds
            bucket = networks[key] = _recent(bucket, at, window, self._network_keep - 1, seen)
            if counts and not rule and len(bucket) >= rules.network_recipients:
                who = {s[_WHO] for s in bucket if s[_COUNTS]}
                if len(who) >= rules.network_recipients:
                    rule, group = "network_burst", bucket[:-1]
        return rule, group

    def revise(self, group: tuple[Seen, ...], rule: str, current: str) -> tuple[Revision, ...]:
        """Revise every hit of ``group`` a person or ``unknown`` was credited with to ``scanner``, once.

        ``current`` is the event id of the hit that completed the burst: a scanner's already, never revised.
        """
        revisions = []
        revised = self._revised
        if current:
            revised[current] = None
        for seen in group:
            event_id = seen[_ID]
            if seen[_VERDICT] not in _REVISABLE or not event_id or event_id in revised:
                continue
            revised[event_id] = None
            if len(revised) > self._rules.entries:
                revised.popitem(last=False)
            revisions.append(
                Revision(
                    event_id=event_id,
                    kind="click" if seen[_KIND] == "click" else "open",
                    campaign_id=seen[_CAMPAIGN],
                    link_id=seen[_LINK],
                    at=seen[_AT],
                    previous=seen[_VERDICT],
                    verdict=Kind.SCANNER,
                    reasons=(*seen[_REASONS], f"revised:{rule}"),
                )
            )
        return tuple(revisions)
