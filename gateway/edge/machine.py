"""Tell a person from a machine for every email open (pixel fetch) and click (redirect).

Raw counts lie: Apple's Mail Privacy Protection prefetches pixels and link scanners follow every
link. Each hit gets a :class:`Verdict`, a :class:`Kind` plus the codes of every signal that fired,
so analysts can count both raw and human figures. The response itself is always served; only the
analytics verdict changes.

Scoring. Strong signals decide alone; when several fire, the first of prefetch, scanner, apple_mpp,
image_proxy wins. A bare WebKit open that is neither from Apple's network nor soon after sending is
``unknown`` by itself (Outlook for Mac sends the same user agent). Weak signals need two to make a
click ``unknown``: ``click_before_open`` (images off is common), ``no_accept_language`` on a
``Mozilla/`` user agent (browsers always send it, scripts dressed as browsers often forget), and on a
click the bare WebKit user agent and Apple's network. The reasons always list every signal that
fired, even when the verdict stays human.

Decisions:

* Markers are case-insensitive substrings. Left out because real people send them: a bare ``bot``
  (Cubot phones put ``CUBOT`` in Android user agents; ``bot/``, ``bot;`` and ``+http`` catch crawlers),
  a bare ``preview`` (a plain word that apps and devices carry; named previewers are listed), and
  ``ms-office`` / ``msoffice`` / ``microsoft office`` (Outlook desktop fetches images of the mail
  being read with them; only Office's ``existence discovery`` probe is a machine). In-app browsers
  (``FBAN``, ``LinkedInApp``, ``Twitter for iPhone``) and ``electron`` mail clients are people.
* Image proxies (Gmail's ``GoogleImageProxy``, ``YahooMailProxy``) fetch a pixel when the person
  opens the mail: ``image_proxy``, a human open. A proxy never follows links for a person (their
  browser does), so a proxy user agent on a click is ``scanner``.
* A bare WebKit click is not Apple Mail: Mail opens links in the default browser, which says
  ``Safari/`` or ``Mobile/``. Mac apps embedding a web view do send it, so it is only a weak signal.
* A click with ``send_time`` in the future (clock skew) counts as too soon after sending.
* Anonymous hits (``recipient == ""``) never get ``click_before_open``: their opens cannot be tied
  to them. Their clicks are remembered per address, so link bursts still show.
* The memory evicts the least recently active (campaign, recipient) first.

Networks. ``gateway/edge/networks.py`` ships the published ranges of mail security gateways: any hit
from them, a click or a pixel fetched at delivery, is a ``scanner`` (they fetch with ordinary browser
strings). An image proxy (by its user agent or its network, Gmail's and Yahoo's) fetching the pixel within
``delivery_window_seconds`` of the send is caching the mail as it arrives: ``prefetch``, with
``proxy_at_delivery_s<30``; later it fetches as the person opens, ``image_proxy``. A person opening within
seconds of the send through a proxy is counted a machine: rare, and the price of not counting every Gmail
delivery as an open. Apple's privacy proxy also sends a plain ``Mozilla/5.0``: from Apple's network (or soon
after sending) that is ``apple_mpp`` like the stripped WebKit string.

Datacenters. Self-hosted and smaller security scanners run in the clouds (AWS, Azure, Google Cloud, Oracle,
DigitalOcean, Linode), whose published ranges ship with the ``datacenter`` role. A hit from them, open or click,
within ``datacenter_delivery_seconds`` (60) of the send is a ``scanner`` with ``datacenter_at_delivery_s<60``:
``scanner`` and not ``prefetch`` because it is a machine inspecting the mail, as the security gateways' fetches at
delivery are, not a proxy caching it for a reader. Later hits from them keep their verdict and carry
``datacenter``: people use VPNs and cloud desktops, so the address alone proves nothing. The minute: scanners
fetch 3-20 s after delivery, and the send time in the token comes before delivery by the sender's queueing; a
person on a cloud network opening within that minute is counted a machine, the price of the rule. A datacenter
click still takes part in bursts like any click; a datacenter open at delivery, a machine's, never does.

Bursts across addresses (``bursts.py``): three links of one email within seconds whatever the addresses, or
clicks of several recipients from one network within seconds, make the hit that completes the burst a
``scanner`` and revise the earlier hits of the burst; the verdict carries those revisions
(``Verdict.revisions``) for the edge to record. A machine open is never part of one, so it is not remembered.

Not thread-safe: the server runs one asyncio loop per process and ``classify`` never awaits, so no
lock is needed there. Give each thread its own :class:`Classifier` otherwise.
"""

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gateway.edge.networks import DATACENTER_NETWORKS, PROXY_NETWORKS, SCANNER_NETWORKS, NetworkSet

from .bursts import BurstRules, Bursts, network_of
from .verdicts import MACHINE_KINDS, Hit, Kind, Revision, Verdict

if TYPE_CHECKING:
    from gateway.config.settings import Settings

__all__ = [
    "DEFAULT_SCANNER_MARKERS",
    "Classifier",
    "ClassifierConfig",
    "Hit",
    "Kind",
    "Revision",
    "Verdict",
    "classifier_config",
]


_PRIORITY = (Kind.PREFETCH, Kind.SCANNER, Kind.APPLE_MPP, Kind.IMAGE_PROXY)


DEFAULT_SCANNER_MARKERS: tuple[str, ...] = (
    # HTTP libraries and command-line tools: no mail client or browser says these.
    "python-requests", "python-urllib", "go-http-client", "curl", "wget", "libwww-perl", "java/", "okhttp",
    "httpclient", "axios", "node-fetch", "undici", "aiohttp", "httpx", "scrapy", "guzzlehttp",
    "headless", "phantomjs",
    # Mail security gateways and link rewriters.
    "urldefense", "safelinks", "barracuda", "mimecast", "proofpoint", "forcepoint", "symantec",
    "trendmicro", "sophos", "zscaler",
    "ciscosecureemail", "tmes", "gmail-content-sampling", "cmlinkcheck",
    # Link previewers and unfurlers.
    "yahoo link preview", "existence discovery", "bingpreview", "skypeuripreview", "slackbot", "whatsapp",
    "facebookexternalhit", "twitterbot", "linkedinbot", "discordbot", "telegrambot",
    # Crawlers.
    "bot/", "bot;", "+http", "crawler", "spider", "slurp", "scanner",
)  # fmt: skip

_PROXIES = (("googleimageproxy", "gmail_image_proxy"), ("yahoomailproxy", "yahoo_image_proxy"))
_PREFETCH_HEADERS = ("sec-purpose", "purpose", "x-purpose", "x-moz")
_PREFETCH_WORDS = re.compile("prefetch|preview|prerender", re.IGNORECASE)
_BARE_WEBKIT_END = "(KHTML, like Gecko)"
_APPLE_PLAIN_UA = "mozilla/5.0"
_UA_CACHE_SIZE = 4096

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Hits from these reach the gateway through the operator's own proxy or a test rig: one address for everybody,
# so they never make a network burst (a scanner on the internet cannot come from them).
_LOCAL_NETWORKS = ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "::1/128",
                   "fc00::/7", "fe80::/10")  # fmt: skip


@dataclass(frozen=True)
class ClassifierConfig:
    """Tunable knobs; the defaults suit a consumer e-commerce list."""

    scanner_markers: tuple[str, ...] = DEFAULT_SCANNER_MARKERS
    apple_networks: tuple[str, ...] = ("17.0.0.0/8",)
    scanner_networks: tuple[str, ...] = SCANNER_NETWORKS
    min_click_seconds_after_send: float = 10.0
    apple_prefetch_window_seconds: float = 3600.0
    proxy_networks: tuple[str, ...] = PROXY_NETWORKS
    delivery_window_seconds: float = 30.0
    burst_window_seconds: float = 2.0
    burst_links: int = 3
    network_window_seconds: float = 5.0
    network_recipients: int = 4
    memory_entries: int = 200_000
    datacenter_networks: tuple[str, ...] = DATACENTER_NETWORKS
    # Scanners fetch 3-20 s after delivery (tests/data/classifier/README.md); a minute leaves room for the mail's
    # own queueing between the send time in the token and delivery, while a person on a cloud network who opens
    # within the minute is rare (see the module docstring).
    datacenter_delivery_seconds: float = 60.0

    def __post_init__(self) -> None:
        # Fail at startup rather than misclassify silently.
        if self.burst_links < 2:
            raise ValueError(f"burst_links must be at least 2, got {self.burst_links}")
        if self.network_recipients < 2:
            raise ValueError(f"network_recipients must be at least 2, got {self.network_recipients}")
        if self.memory_entries < 1:
            raise ValueError(f"memory_entries must be at least 1, got {self.memory_entries}")
        if self.datacenter_delivery_seconds < 0:
            raise ValueError(
                f"datacenter_delivery_seconds must not be negative, got {self.datacenter_delivery_seconds}"
            )


def classifier_config(settings: "Settings") -> ClassifierConfig:
    """The configuration the gateway runs with: the built-in lists plus what the settings add."""
    return ClassifierConfig(
        scanner_markers=DEFAULT_SCANNER_MARKERS + settings.scanner_markers,
        apple_networks=settings.apple_networks,
        scanner_networks=SCANNER_NETWORKS + settings.scanner_networks,
    )


@dataclass(frozen=True, slots=True)
class _UaFacts:
    """What a user agent string says, computed once per distinct string."""

    markers: tuple[str, ...]  # reason codes, e.g. "ua_marker:curl"
    proxy: str | None  # reason code of an image proxy
    apple_ua: str | None  # reason code of a user agent Apple's privacy proxy sends
    browser_like: bool


def _parse_ip(ip: str) -> _Address | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=32)
def _network_set(cidrs: tuple[str, ...]) -> NetworkSet:
    # A NetworkSet never changes once built, so classifiers given the same lists share one: parsing the hundreds
    # of shipped ranges takes milliseconds, and tests and workers build many classifiers.
    return NetworkSet(cidrs)


def _utc(moment: datetime) -> datetime:
    # A naive datetime would make subtraction raise; the contract says UTC, so read it as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Classifier:
    """Classifies hits, remembering recent activity in a bounded in-memory map (no I/O)."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()) -> None:
        self._config = config
        self._markers = tuple(dict.fromkeys(m.lower() for m in config.scanner_markers if m))
        self._apple_networks = _network_set(config.apple_networks)
        self._scanner_networks = _network_set(config.scanner_networks)
        self._proxy_networks = _network_set(config.proxy_networks)
        self._datacenter_networks = _network_set(config.datacenter_networks)
        self._local_networks = _network_set(_LOCAL_NETWORKS)
        self._too_soon_reason = f"sent_ago_s<{config.min_click_seconds_after_send:g}"
        self._apple_window_reason = f"sent_ago_s<{config.apple_prefetch_window_seconds:g}"
        self._delivery_reason = f"proxy_at_delivery_s<{config.delivery_window_seconds:g}"
        self._datacenter_reason = f"datacenter_at_delivery_s<{config.datacenter_delivery_seconds:g}"
        self._ua_cache: dict[str, _UaFacts] = {}
        self._bursts = Bursts(
            BurstRules(
                window_seconds=config.burst_window_seconds,
                links=config.burst_links,
                network_window_seconds=config.network_window_seconds,
                network_recipients=config.network_recipients,
                entries=config.memory_entries,
            )
        )

    @property
    def remembered(self) -> int:
        """How many (campaign, recipient) entries the recent-activity memory holds."""
        return len(self._bursts)

    @property
    def networks_remembered(self) -> int:
        """How many (campaign, network) entries the burst memory holds."""
        return self._bursts.networks

    def forget(self, recipients: Iterable[str]) -> int:
        """Erasure: drop the recent activity remembered for ``recipients``; returns how many entries went."""
        return self._bursts.forget(recipients)

    def classify(self, hit: Hit) -> Verdict:
        """Return the verdict for one hit and remember it for later hits; with it, the earlier hits it revised."""
        config = self._config
        headers = {name.lower(): value for name, value in hit.headers.items()}
        ua = headers.get("user-agent", "").strip()
        facts = self._ua_facts(ua)
        is_click = hit.kind == "click"
        now = _utc(hit.now)
        elapsed = None if hit.send_time is None else (now - _utc(hit.send_time)).total_seconds()
        reasons: list[str] = []
        strong: set[Kind] = set()
        weak = 0
        ambiguous = False

        for name in _PREFETCH_HEADERS:
            value = headers.get(name)
            if value and _PREFETCH_WORDS.search(value):
                reasons.append(f"prefetch_header:{name}")
                strong.add(Kind.PREFETCH)

        if not ua:
            reasons.append("no_user_agent")
            strong.add(Kind.SCANNER)
        if facts.markers:
            reasons.extend(facts.markers)
            strong.add(Kind.SCANNER)
        method = hit.method.upper()
        if method != "GET":
            # Reason codes stay a closed set: the raw method is attacker-controlled.
            reasons.append("method:HEAD" if method == "HEAD" else "method:other")
            strong.add(Kind.SCANNER)
        address = _parse_ip(hit.ip)
        if address in self._scanner_networks:
            reasons.append("scanner_network")
            strong.add(Kind.SCANNER)
        if address in self._datacenter_networks:
            # A cloud machine fetching as the mail arrives; later, it may be a person on a VPN or a cloud desktop.
            if elapsed is not None and elapsed < config.datacenter_delivery_seconds:
                reasons.append(self._datacenter_reason)
                strong.add(Kind.SCANNER)
            else:
                reasons.append("datacenter")

        if facts.proxy is not None:
            reasons.append(facts.proxy)
            strong.add(Kind.SCANNER if is_click else Kind.IMAGE_PROXY)
        at_delivery = not is_click and elapsed is not None and elapsed < config.delivery_window_seconds
        # Only clicks and opens at delivery need the lookup: most hits are opens read later.
        proxied = facts.proxy is not None or ((is_click or at_delivery) and address in self._proxy_networks)
        if proxied and at_delivery:
            # The proxy caching the mail as it arrives, before anyone reads it (a person opens later).
            reasons.append(self._delivery_reason)
            strong.add(Kind.PREFETCH)

        if facts.apple_ua is not None:
            reasons.append(facts.apple_ua)
            from_apple = address in self._apple_networks
            if from_apple:
                reasons.append("apple_network")
            if is_click:
                weak += 2 if from_apple else 1
            else:
                soon = elapsed is not None and elapsed < config.apple_prefetch_window_seconds
                if soon:
                    reasons.append(self._apple_window_reason)
                if from_apple or soon:
                    strong.add(Kind.APPLE_MPP)
                else:
                    ambiguous = True

        activity = None
        if is_click:
            if elapsed is not None and elapsed < config.min_click_seconds_after_send:
                reasons.append(self._too_soon_reason)
                strong.add(Kind.SCANNER)
            if facts.browser_like and not headers.get("accept-language", "").strip():
                reasons.append("no_accept_language")
                weak += 1
            activity = self._bursts.activity((hit.campaign_id, hit.recipient, "" if hit.recipient else hit.ip))
            if hit.recipient and not activity.opened:
                reasons.append("click_before_open")
                weak += 1
        elif hit.recipient:
            activity = self._bursts.activity((hit.campaign_id, hit.recipient, ""))
            activity.opened = True

        kind = next((k for k in _PRIORITY if k in strong), None)
        if kind is None:
            kind = Kind.UNKNOWN if ambiguous or weak >= 2 else Kind.HUMAN
        if kind in MACHINE_KINDS and not is_click:
            return Verdict(kind, tuple(reasons))  # never revised, never part of a burst: nothing to remember

        remembered = (activity is not None or is_click) and address not in self._local_networks
        network = network_of(address) if remembered else None
        # Image proxies and Apple's relay are many people behind one network by design: they never count.
        counts = is_click and not proxied and facts.apple_ua is None
        link = hit.link_id or ""
        at = now.timestamp()
        own = tuple(reasons)
        seen = (at, hit.kind, hit.event_id, hit.campaign_id, link, hit.recipient or hit.ip, counts, kind, own)
        rule, group = self._bursts.observe(activity, network, seen)
        if not rule:
            return Verdict(kind, own)
        reasons.append(rule)
        strong.add(Kind.SCANNER)
        kind = next(k for k in _PRIORITY if k in strong)
        return Verdict(kind, tuple(reasons), self._bursts.revise(group, rule, hit.event_id))

    def _ua_facts(self, ua: str) -> _UaFacts:
        # Real traffic has few distinct user agents; caching makes the marker scan nearly free.
        facts = self._ua_cache.get(ua)
        if facts is None:
            lowered = ua.lower()
            facts = _UaFacts(
                markers=tuple(f"ua_marker:{m}" for m in self._markers if m in lowered),
                proxy=next((code for needle, code in _PROXIES if needle in lowered), None),
                apple_ua=(
                    "apple_bare_webkit_ua"
                    if "applewebkit/" in lowered and ua.endswith(_BARE_WEBKIT_END)
                    else "apple_plain_ua"
                    if lowered == _APPLE_PLAIN_UA
                    else None
                ),
                browser_like=lowered.startswith("mozilla/"),
            )
            if len(self._ua_cache) >= _UA_CACHE_SIZE:
                self._ua_cache.clear()  # junk user agents cannot grow it; the common ones come back at once
            self._ua_cache[ua] = facts
        return facts
