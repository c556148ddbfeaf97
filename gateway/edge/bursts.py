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


@dataclass(slots=True)
class Seen:
    """One recent hit as the memory keeps it. ``verdict`` and ``reasons`` change when it is revised."""

    at: float
    kind: str  # open or click
    event_id: str
    campaign_id: str
    link_id: str
    who: str  # the recipient, or the address of an anonymous hit
    counts: bool  # a click that counts towards a network burst
    verdict: Kind = Kind.HUMAN
    reasons: tuple[str, ...] = ()
    revised: bool = False


class Activity:
    """What the memory holds for one (campaign, recipient): whether it was opened, and its recent hits."""

    __slots__ = ("hits", "opened")

    def __init__(self) -> None:
        self.opened = False
        self.hits: list[Seen] = []


def network_of(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> int | None:
    """The /24 (IPv4) or /48 (IPv6) an address belongs to, as a number unique across both families."""
    if address is None:
        return None
    if address.version == 4:
        return int(address) >> _V4_SHIFT
    return -(int(address) >> _V6_SHIFT) - 1  # negative: never equal to an IPv4 network


def _recent(hits: list[Seen], now: float, window: float, keep: int) -> list[Seen]:
    # abs(): out-of-order arrivals (several workers, clock steps) must not revive or join old hits.
    kept = [seen for seen in hits if abs(now - seen.at) <= window]
    return kept[-keep:]


class Bursts:
    """The recent hits per email and per network, and the two burst rules over them."""

    def __init__(self, rules: BurstRules) -> None:
        self._rules = rules
        # Enough to hold a burst even when the same email's opens or other addresses come in between.
        self._keep = 4 * rules.links
        self._network_keep = 4 * rules.network_recipients
        self._emails: OrderedDict[tuple[str, str, str], Activity] = OrderedDict()
        self._networks: OrderedDict[tuple[str, int], list[Seen]] = OrderedDict()

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
            left = [seen for seen in hits if seen.who not in gone]
            if left:
                self._networks[network] = left
            else:
                del self._networks[network]
        return len(keys)

    def observe(self, activity: Activity | None, network: int | None, seen: Seen) -> tuple[str, list[Seen]]:
        """Remember ``seen``; when it completes a burst, the rule's code and the earlier hits of the burst."""
        rules = self._rules
        rule, group = "", []
        if activity is not None:
            hits = activity.hits = _recent(activity.hits, seen.at, rules.window_seconds, self._keep - 1)
            hits.append(seen)
            if seen.kind == "click":
                links = {s.link_id for s in hits if s.kind == "click"}
                if len(links) >= rules.links:
                    rule, group = "link_burst", hits[:-1]
        if network is not None:
            key = (seen.campaign_id, network)
            networks = self._networks
            bucket = networks.get(key)
            if bucket is None:
                if not seen.counts:  # an open from a network no click came from: nothing to remember
                    return rule, group
                bucket = []
                if len(networks) >= rules.entries:
                    networks.popitem(last=False)
            else:
                networks.move_to_end(key)
            bucket = _recent(bucket, seen.at, rules.network_window_seconds, self._network_keep - 1)
            bucket.append(seen)
            networks[key] = bucket
            if seen.counts and not rule:
                who = {s.who for s in bucket if s.counts}
                if len(who) >= rules.network_recipients:
                    rule, group = "network_burst", bucket[:-1]
        return rule, group

    @staticmethod
    def revise(group: list[Seen], rule: str) -> tuple[Revision, ...]:
        """Revise every hit of ``group`` a person or ``unknown`` was credited with to ``scanner``, once."""
        revisions = []
        for seen in group:
            if seen.revised or seen.verdict not in _REVISABLE or not seen.event_id:
                continue
            seen.revised = True
            reasons = (*seen.reasons, f"revised:{rule}")
            revisions.append(
                Revision(
                    event_id=seen.event_id,
                    kind="click" if seen.kind == "click" else "open",
                    campaign_id=seen.campaign_id,
                    link_id=seen.link_id,
                    at=seen.at,
                    previous=seen.verdict,
                    verdict=Kind.SCANNER,
                    reasons=reasons,
                )
            )
            seen.verdict, seen.reasons = Kind.SCANNER, reasons
        return tuple(revisions)
