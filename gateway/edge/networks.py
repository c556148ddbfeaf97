"""Networks that mail scanners and image proxies fetch from, shipped so the classifier knows them by default.

Each entry names its vendor, its role and where the vendor publishes the list. Roles:

* ``scanner``: security gateways that follow links and fetch images to inspect them (Microsoft EOP and
  Defender, Proofpoint, Mimecast, Barracuda, Cisco Secure Email, Trend Micro Email Security). Any hit
  from them is a machine.
* ``proxy``: image proxies that fetch a pixel when a person opens the mail (Gmail, Yahoo). Their opens
  stay people's, except a fetch at delivery, which is the proxy caching the mail before anyone reads it.

The ranges are the vendors' published mail and scanning ranges as of ``AS_OF``, transcribed from public
copies of those lists (the machine that wrote this table had no route to the vendors' pages); vendors
change them, so README "Scanner and proxy networks" says where each list lives and how to refresh this
table. Operators add their own with ``GA4GW_SCANNER_NETWORKS``.
"""

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["AS_OF", "PROXY_NETWORKS", "SCANNER_NETWORKS", "SHIPPED_NETWORKS", "NetworkSet", "VendorNetworks"]

AS_OF = "2026-11-28"


@dataclass(frozen=True, slots=True)
class VendorNetworks:
    """One vendor's published ranges and where they are published."""

    vendor: str
    role: Literal["scanner", "proxy"]
    cidrs: tuple[str, ...]
    source: str


SHIPPED_NETWORKS: tuple[VendorNetworks, ...] = (
    VendorNetworks(
        "microsoft_eop_defender",
        "scanner",
        ("40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17", "2a01:111:f400::/48",
         "2a01:111:f403::/48"),
        "https://learn.microsoft.com/en-us/microsoft-365/enterprise/urls-and-ip-address-ranges (Exchange Online, ID 2)",
    ),
    VendorNetworks(
        "proofpoint",
        "scanner",
        ("67.231.144.0/20", "148.163.128.0/19", "205.220.160.0/19", "66.159.224.0/19", "185.132.180.0/22",
         "185.183.28.0/22", "91.207.212.0/23", "91.209.104.0/24", "62.209.50.0/23"),
        "https://help.proofpoint.com (Proofpoint Essentials / PPS data-centre IP ranges); SPF include:pphosted.com",
    ),
    VendorNetworks(
        "mimecast",
        "scanner",
        ("205.139.110.0/24", "207.211.30.0/23", "216.205.24.0/24", "170.10.128.0/23", "91.220.42.0/24",
         "195.130.217.0/24", "185.58.84.0/22", "146.101.78.0/24", "194.106.220.0/24", "213.167.74.0/24"),
        "https://community.mimecast.com/s/article/Mimecast-IP-Ranges; SPF include:_netblocks.mimecast.com",
    ),
    VendorNetworks(
        "barracuda",
        "scanner",
        ("64.235.144.0/20", "209.222.80.0/21"),
        "https://campus.barracuda.com/product/emailgatewaydefense/doc/ (Email Gateway Defense IP ranges)",
    ),
    VendorNetworks(
        "cisco_secure_email",
        "scanner",
        ("68.232.128.0/19", "139.138.32.0/19", "216.71.128.0/19"),
        "https://www.cisco.com/c/en/us/td/docs/security/ces/ (Cisco Secure Email Cloud Gateway, iphmx.com ranges)",
    ),
    VendorNetworks(
        "trend_micro_email_security",
        "scanner",
        ("18.208.22.64/26", "18.208.22.128/25", "18.185.115.0/25", "18.185.115.128/26", "150.70.0.0/16"),
        "https://docs.trendmicro.com/en-us/enterprise/trend-micro-email-security-online-help/ (MTA IP addresses)",
    ),
    VendorNetworks(
        "google_image_proxy",
        "proxy",
        ("66.102.0.0/20", "66.249.80.0/20", "74.125.0.0/16", "2001:4860:4000::/36"),
        "https://developers.google.com/static/search/apis/ipranges/user-triggered-fetchers-google.json; "
        "https://www.gstatic.com/ipranges/goog.json",
    ),
    VendorNetworks(
        "yahoo_mail_proxy",
        "proxy",
        ("98.136.0.0/14", "74.6.0.0/16", "66.163.160.0/19"),
        "https://help.yahoo.com/kb/mail/yahoo-link-preview-SLN23615.html (rDNS .yahoo.com); ARIN whois Oath/Yahoo",
    ),
)  # fmt: skip

SCANNER_NETWORKS: tuple[str, ...] = tuple(c for v in SHIPPED_NETWORKS if v.role == "scanner" for c in v.cidrs)
PROXY_NETWORKS: tuple[str, ...] = tuple(c for v in SHIPPED_NETWORKS if v.role == "proxy" for c in v.cidrs)


class NetworkSet:
    """CIDRs looked up in O(log n): the shipped lists hold dozens of ranges and every hit is checked."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, cidrs: Iterable[str]) -> None:
        # Ranges of both families live on one integer line: IPv6 is shifted past every IPv4 address.
        spans = sorted(_span(ipaddress.ip_network(cidr, strict=False)) for cidr in cidrs)
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self._starts = [start for start, _ in merged]
        self._ends = [end for _, end in merged]

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __contains__(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        if address is None or not self._starts:
            return False
        point = int(address) + (_V6_OFFSET if address.version == 6 else 0)
        at = bisect_right(self._starts, point) - 1
        return at >= 0 and point <= self._ends[at]


_V6_OFFSET = 1 << 32


def _span(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int]:
    offset = _V6_OFFSET if network.version == 6 else 0
    return int(network.network_address) + offset, int(network.broadcast_address) + offset
