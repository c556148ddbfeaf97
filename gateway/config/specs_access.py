"""Settings of the HTTP server's limits and of the rate limits per client (see ``http_protocol`` and ``ratelimit``)."""

from __future__ import annotations

import limits

from . import parsers as p
from .parsers import SettingSpec

__all__ = ["ACCESS_SPECS", "rates"]

_RATE = "a rate like 10/minute (several with ';', e.g. 20/second;600/minute), or empty for no limit"


def rates(value: str) -> str:
    """A rate in the ``limits`` notation (``10/minute``, ``5 per second;100/hour``), kept as text; empty: none."""
    value = value.strip()
    if value:
        try:
            limits.parse_many(value)
        except ValueError:
            raise ValueError("not a rate") from None
    return value


ACCESS_SPECS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "http_max_header_bytes",
        p.int_range(1024, 1024 * 1024),
        "32768",
        "Most bytes a request's line and headers may take; more gets 431 and the connection is closed.",
        "a whole number of bytes, 1024 to 1048576",
    ),
    SettingSpec(
        "http_read_timeout",
        p.float_positive,
        "15",
        "Seconds a request may take to arrive whole (headers and body) from its first byte; a slower one gets 408 "
        "and the connection is closed (slow-loris clients).",
        "a positive number of seconds",
    ),
    SettingSpec(
        "rate_auth_failures",
        rates,
        "10/minute",
        "Failed authentications (bad, expired or revoked tokens or MP api_secrets) allowed per client address; "
        "past it every authenticated request from that address gets 429 until the window moves on.",
        _RATE,
    ),
    SettingSpec(
        "rate_api",
        rates,
        "6000/minute",
        "Requests per client address to /v1/* (the API); more get 429 with Retry-After.",
        _RATE,
    ),
    SettingSpec(
        "rate_mp",
        rates,
        "6000/minute",
        "Requests per client address to /mp/collect; more get 429 with Retry-After.",
        _RATE,
    ),
)
