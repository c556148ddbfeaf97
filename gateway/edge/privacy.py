"""Privacy at the edge: what of a client's address may be stored."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

__all__ = ["truncate_ip"]


@lru_cache(maxsize=65536)
def truncate_ip(address: str, v4_prefix: int = 24, v6_prefix: int = 48) -> str:
    """The network part of ``address`` (IPv4 /24, IPv6 /48 by default); "" for a prefix of 0 or a non-address.

    The full address lives only in memory, for classification; only this goes to storage.
    An IPv4-mapped IPv6 address is truncated as IPv4.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = v4_prefix if ip.version == 4 else v6_prefix
    if prefix <= 0:
        return ""
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
