"""Networks that mail scanners, image proxies and cloud machines fetch from, shipped so the classifier knows them.

The ranges live in ``gateway/edge/data/networks.json``, shipped with the package: per vendor its role, where the
vendor publishes the list, the format it is published in, the day it was taken, what it was checked against, and
the ranges. This module loads and checks that file once, at import. Roles:

* ``scanner``: security gateways that follow links and fetch images to inspect them (Microsoft EOP and
  Defender, Proofpoint, Mimecast, Barracuda, Cisco Secure Email, Trend Micro Email Security). Any hit
  from them is a machine.
* ``proxy``: image proxies that fetch a pixel when a person opens the mail (Gmail, Yahoo). Their opens
  stay people's, except a fetch at delivery, which is the proxy caching the mail before anyone reads it.
* ``datacenter``: cloud networks (AWS, Azure, Google Cloud, Oracle Cloud, DigitalOcean, Linode), where
  self-hosted and smaller security scanners run. Only a hit at delivery from them is a machine: people use VPNs
  and cloud desktops, so later hits only carry the reason. The shipped lists are a selection (the largest
  networks of each provider's published list); the refresh tool reads the providers' full lists.

Vendors change their ranges: ``python -m gateway.edge.networks_refresh`` rebuilds the file from the vendors'
published formats and prints what changed (README "Scanner and proxy networks"). Operators add their own with
``GA4GW_SCANNER_NETWORKS``.
"""

import datetime
import ipaddress
import json
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal, cast

__all__ = [
    "AS_OF",
    "DATACENTER_NETWORKS",
    "FORMATS",
    "PROXY_NETWORKS",
    "SCANNER_NETWORKS",
    "SHIPPED_NETWORKS",
    "NetworkSet",
    "VendorNetworks",
    "load_networks",
]

# How each vendor publishes its list (networks_refresh reads them).
FORMATS = ("microsoft", "goog", "spf", "cidrs", "aws", "azure", "oracle", "csv")
Role = Literal["scanner", "proxy", "datacenter"]
_ROLES: tuple[Role, ...] = ("scanner", "proxy", "datacenter")


@dataclass(frozen=True, slots=True)
class VendorNetworks:
    """One vendor's published ranges, where and in which format they are published, and when they were taken."""

    vendor: str
    role: Role
    cidrs: tuple[str, ...]
    source: str
    format: str = "cidrs"
    taken: str = ""  # ISO date the list was taken from its source
    checked: str = ""  # what the ranges were verified against


def load_networks(document: Mapping[str, Any]) -> tuple[str, tuple[VendorNetworks, ...]]:
    """Check a parsed networks file and return its ``as_of`` date and vendors.

    Raises ValueError naming the vendor and field when an entry lacks its source or date, has an unknown role
    or format, or a range that is not a network: a broken file must fail at import, not classify silently.
    """
    as_of = _date(document.get("as_of"), "as_of")
    vendors = document.get("vendors")
    if not isinstance(vendors, list) or not vendors:
        raise ValueError("networks file: 'vendors' must be a non-empty list")
    loaded: list[VendorNetworks] = []
    for at, entry in enumerate(vendors):
        if not isinstance(entry, dict):
            raise ValueError(f"networks file: vendors[{at}] must be an object")
        name = entry.get("vendor")
        if not isinstance(name, str) or not name:
            raise ValueError(f"networks file: vendors[{at}].vendor is missing")
        where = f"networks file: vendor {name!r}"
        for field in ("source", "checked"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise ValueError(f"{where}: '{field}' is missing")
        if entry.get("role") not in _ROLES:
            raise ValueError(f"{where}: 'role' must be one of {', '.join(_ROLES)}")
        if entry.get("format") not in FORMATS:
            raise ValueError(f"{where}: 'format' must be one of {', '.join(FORMATS)}")
        cidrs = entry.get("cidrs")
        if not isinstance(cidrs, list) or not cidrs or not all(isinstance(cidr, str) for cidr in cidrs):
            raise ValueError(f"{where}: 'cidrs' must be a non-empty list of networks")
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr)
            except ValueError as exc:
                raise ValueError(f"{where}: {cidr!r} is not a network ({exc})") from None
        if any(other.vendor == name for other in loaded):
            raise ValueError(f"{where}: listed twice")
        role = cast(Role, entry["role"])
        taken = _date(entry.get("taken"), f"vendor {name!r} taken")
        loaded.append(
            VendorNetworks(name, role, tuple(cidrs), entry["source"], entry["format"], taken, entry["checked"])
        )
    return as_of, tuple(loaded)


def _date(value: object, field: str) -> str:
    try:
        return datetime.date.fromisoformat(cast(str, value)).isoformat()
    except (TypeError, ValueError):
        raise ValueError(f"networks file: {field} must be a date (YYYY-MM-DD), not {value!r}") from None


_SHIPPED = files("gateway.edge").joinpath("data", "networks.json")
AS_OF, SHIPPED_NETWORKS = load_networks(json.loads(_SHIPPED.read_text(encoding="utf-8")))
SCANNER_NETWORKS: tuple[str, ...] = tuple(c for v in SHIPPED_NETWORKS if v.role == "scanner" for c in v.cidrs)
PROXY_NETWORKS: tuple[str, ...] = tuple(c for v in SHIPPED_NETWORKS if v.role == "proxy" for c in v.cidrs)
DATACENTER_NETWORKS: tuple[str, ...] = tuple(c for v in SHIPPED_NETWORKS if v.role == "datacenter" for c in v.cidrs)


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
