"""Settings of the HTTP server's limits and of the rate limits per client (see ``http_protocol`` and ``ratelimit``)."""

from __future__ import annotations

from . import setting_parsers as p
from .setting_parsers import SettingSpec

__all__ = ["ACCESS_SPECS"]

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
)
