"""Which hosts a URL may go to: the landing token's domains and the signing allow-list.

One matching rule for both settings (``GA4GW_LANDING_DOMAINS``, ``GA4GW_LINK_DESTINATIONS``): a
host matches a listed domain when it is that domain or a subdomain of it (``shop.example`` lists
``www.shop.example`` too, and never ``evilshop.example`` nor ``shop.example.evil``).

The host is read the way a browser reads it, not the way ``urllib`` does: ``\\`` ends the
authority like ``/`` (``https://evil.example\\@shop.example/`` goes to ``evil.example``), and
the last ``@`` ends the user info.

The default landing domain is the registrable domain of ``GA4GW_PUBLIC_URL``'s host
(``t.shop.example`` gives ``shop.example``, ``t.shop.co.uk`` gives ``shop.co.uk``), from the public
suffix list that ``publicsuffixlist`` ships offline; an IP address or a single-label host (a
development setup) is its own domain.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from identity.personal import public_suffixes

__all__ = ["host_allowed", "host_of", "landing_domains", "registrable_domain"]

_AUTHORITY_ENDS = "/?#\\"


def host_of(url: str) -> str:
    """The lower-case host of an absolute URL ("" when it has none); IPv6 without its brackets."""
    _, sep, rest = url.partition("://")
    if not sep:
        return ""
    end = len(rest)
    for char in _AUTHORITY_ENDS:
        at = rest.find(char, 0, end)
        if at >= 0:
            end = at
    authority = rest[:end].rpartition("@")[2]
    if authority.startswith("["):
        return authority[1 : authority.find("]")].lower()
    return authority.partition(":")[0].rstrip(".").lower()


def host_allowed(host: str, domains: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``domains`` or a subdomain of one."""
    return bool(host) and any(host == d or host.endswith("." + d) for d in domains)


def registrable_domain(host: str) -> str:
    """The domain a registrant owns under its public suffix; an IP address or a bare name is itself."""
    host = host.rstrip(".").lower()
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    return public_suffixes().privatesuffix(host) or host


def landing_domains(configured: tuple[str, ...], public_url: str) -> tuple[str, ...]:
    """The domains that get a landing token: the setting, else the public URL's registrable domain."""
    return configured or (registrable_domain(urlsplit(public_url).hostname or ""),)
