"""Every setting, declared once: its parser, default, help line and what a bad value should have been.

``gateway.settings`` builds the ``Settings`` object from these; the README's table is generated from
them (``ga4gw settings --markdown``) and a test checks the two agree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["PREFIX", "SPECS", "SettingSpec", "parse_keyring"]

PREFIX = "GA4GW_"


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its field name, how to parse it, its default and what it is for."""

    name: str
    parse: Callable[[str], Any]
    default: str
    help: str
    expected: str
    secret: bool = False

    @property
    def env(self) -> str:
        return PREFIX + self.name.upper()


def _str(value: str) -> str:
    return value.strip()


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value.strip())
        if not lo <= number <= hi:
            raise ValueError(f"{number} is outside {lo}..{hi}")
        return number

    return parse


def _float_positive(value: str) -> float:
    number = float(value.strip())
    if number <= 0:
        raise ValueError("must be positive")
    return number


def _http_url(value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return value


def _dsn(value: str) -> str:
    value = value.strip()
    if value and not value.startswith(("chdb://", "http://", "https://")):
        raise ValueError("unknown scheme")
    return value


def _identifier(value: str) -> str:
    value = value.strip()
    if value and not value.replace("_", "").replace("-", "").isalnum():
        raise ValueError("only letters, digits, '_' and '-'")
    return value


def _measurement_id(value: str) -> str:
    value = value.strip()
    if value and not (value.startswith("G-") and value[2:].isalnum()):
        raise ValueError("not a G-XXXXXXX measurement id")
    return value


def _log_level(value: str) -> str:
    value = value.strip().lower()
    if value not in ("debug", "info", "warning", "error"):
        raise ValueError("unknown level")
    return value


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("not a boolean")


def _optional_url(value: str) -> str:
    return _http_url(value) if value.strip() else ""


def _networks(value: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in value.split(",") if item.strip())
    for item in items:
        ipaddress.ip_network(item, strict=False)
    return items


def _words(value: str) -> tuple[str, ...]:
    return tuple(item.strip().lower() for item in value.split(",") if item.strip())


def _sync(value: str) -> str:
    value = value.strip().lower()
    if value not in ("full", "normal"):
        raise ValueError("unknown mode")
    return value


def _days(value: str) -> float:
    number = float(value.strip())
    if not 0 < number <= 3650:
        raise ValueError(f"{number} is outside 0..3650")
    return number


def _weight(value: str) -> float:
    number = float(value.strip())
    if not 0 <= number <= 100:
        raise ValueError(f"{number} is outside 0..100")
    return number


def _event_names(value: str) -> tuple[str, ...]:
    names = tuple(item.strip() for item in value.split(",") if item.strip())
    if not names:
        raise ValueError("name at least one event")
    for name in names:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"{name!r} is not an event name")
    return names


def _time_of_day(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    hours, sep, minutes = value.partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ValueError("not HH:MM")
    return f"{int(hours):02d}:{int(minutes):02d}"


_ATTRIBUTION = (
    SettingSpec(
        "attribution_conversion_events",
        _event_names,
        "purchase",
        "Event names that count as conversions in attribution (purchases are de-duplicated by transaction id).",
        "comma-separated event names",
    ),
    SettingSpec(
        "attribution_click_lookback_days",
        _days,
        "30",
        "How long before a conversion a human email click still earns credit.",
        "days, more than 0",
    ),
    SettingSpec(
        "attribution_open_lookback_days",
        _days,
        "3",
        "How long before a conversion a human email open still earns credit (machine opens never do).",
        "days, more than 0",
    ),
    SettingSpec(
        "attribution_visit_lookback_days",
        _days,
        "30",
        "How long before a conversion a visit from another channel (source/medium, or direct) still earns credit.",
        "days, more than 0",
    ),
    SettingSpec(
        "attribution_open_weight",
        _weight,
        "0.5",
        "Weight of a human email open against a click's 1 in every model; 0 leaves opens out.",
        "a number from 0 to 100",
    ),
    SettingSpec(
        "attribution_half_life_days",
        _days,
        "7",
        "Half-life of the time-decay model: a touch this much older than another earns half its credit.",
        "days, more than 0",
    ),
    SettingSpec(
        "attribution_fit_days",
        _days,
        "90",
        "Markov and Shapley models learn from the journeys of this many days before a run's end.",
        "days, more than 0",
    ),
    SettingSpec(
        "attribution_shapley_samples",
        _int_range(100, 10**7),
        "2000",
        "Random channel orders drawn for Shapley values when there are more than 12 channels.",
        "100 or more",
    ),
    SettingSpec(
        "attribution_nightly_at",
        _time_of_day,
        "03:30",
        "UTC time of the nightly incremental attribution run in `ga4gw serve`; empty turns it off.",
        "HH:MM or empty",
    ),
)


def parse_keyring(value: str) -> tuple[tuple[str, str], ...]:
    """Parse ``kid:secret,kid2:secret2`` (newest first) into pairs; an empty value is an empty ring."""
    pairs: list[tuple[str, str]] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        kid, sep, secret = item.partition(":")
        if not sep or not kid or not secret:
            raise ValueError("each key must be written key_id:secret")
        if not kid.isalnum():
            raise ValueError("a key id may only hold letters and digits")
        if len(secret) < 32:
            raise ValueError(f"the secret of key {kid!r} is shorter than 32 characters")
        if kid in dict(pairs):
            raise ValueError(f"key id {kid!r} appears twice")
        pairs.append((kid, secret))
    return tuple(pairs)


def _keyring_text(value: str) -> str:
    parse_keyring(value)  # validate now, keep the text wrapped in a Secret
    return value.strip()


_KEYRING = "comma-separated key_id:secret pairs, newest first, secrets of 32+ characters"

SPECS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "data_dir",
        _str,
        "./var",
        "Directory for the local store, generated dev keys and the embedded warehouse.",
        "a directory path",
    ),
    SettingSpec(
        "warehouse_dsn",
        _dsn,
        "",
        "ClickHouse to use: chdb://PATH (embedded) or http(s)://user:pass@host:port/db. "
        "Empty means chdb://<data_dir>/warehouse.",
        "chdb://PATH or http(s)://user:password@host:port/database",
        secret=True,
    ),
    SettingSpec(
        "clickhouse_cluster",
        _identifier,
        "",
        "ClickHouse cluster name; when set, migrations use ON CLUSTER, "
        "Replicated engines and Distributed tables. Empty means a single node.",
        "a cluster name",
    ),
    SettingSpec(
        "retention_months",
        _int_range(1, 120),
        "14",
        "How long events stay in the warehouse (a TTL on tables).",
        "a whole number of months, 1 to 120",
    ),
    SettingSpec("host", _str, "127.0.0.1", "Address `ga4gw serve` listens on.", "an IP address or host name"),
    SettingSpec("port", _int_range(0, 65535), "8080", "Port `ga4gw serve` listens on.", "a port number, 0 to 65535"),
    SettingSpec(
        "public_url",
        _http_url,
        "http://127.0.0.1:8080",
        "Public base URL of the tracking domain; tracked links and pixels start with it.",
        "an http(s) URL",
    ),
    SettingSpec(
        "signing_keys",
        _keyring_text,
        "",
        "Keys that sign tracking links and pixels. Empty means keys "
        "generated into the data directory (development only).",
        _KEYRING,
        secret=True,
    ),
    SettingSpec(
        "api_keys",
        _keyring_text,
        "",
        "Keys that sign API tokens (JWT HS256). Empty means keys generated into the data directory (development only).",
        _KEYRING,
        secret=True,
    ),
    SettingSpec(
        "pseudonym_keys",
        _keyring_text,
        "",
        "Keys of the keyed pseudonyms (HMAC-SHA256) of emails and other "
        "identifiers. Empty means keys generated into the data directory (development only).",
        _KEYRING,
        secret=True,
    ),
    SettingSpec(
        "link_ttl_days",
        _int_range(0, 3650),
        "0",
        "Default lifetime of new tracking links; an expired link "
        "still redirects but is recorded as expired. 0 means no expiry.",
        "a whole number of days, 0 to 3650",
    ),
    SettingSpec(
        "fallback_url",
        _optional_url,
        "",
        "Where a tampered or unknown click link goes. Empty shows a small 'link not valid' page (404).",
        "an http(s) URL or empty",
    ),
    SettingSpec(
        "utm_override",
        _bool,
        "false",
        "Replace utm_* parameters the destination already has (default: keep them).",
        "true or false",
    ),
    SettingSpec(
        "utm_source",
        _str,
        "newsletter",
        "utm_source added to click redirects (utm_medium is always email).",
        "a short word",
    ),
    SettingSpec(
        "landing_param",
        _identifier,
        "ga4gw_lt",
        "Query parameter that carries the landing token on the redirect to the shop.",
        "a parameter name",
    ),
    SettingSpec(
        "landing_token_ttl",
        _int_range(60, 1800),
        "1800",
        "Lifetime of the landing token in seconds (at most 30 minutes).",
        "60 to 1800 seconds",
    ),
    SettingSpec(
        "track_unsubscribe", _bool, "false", "Rewrite unsubscribe links into tracked links too.", "true or false"
    ),
    SettingSpec(
        "ip_v4_prefix",
        _int_range(0, 32),
        "24",
        "Bits of an IPv4 address kept in the warehouse (0 keeps none). The full address is only used in memory.",
        "0 to 32",
    ),
    SettingSpec(
        "ip_v6_prefix",
        _int_range(0, 128),
        "48",
        "Bits of an IPv6 address kept in the warehouse (0 keeps none).",
        "0 to 128",
    ),
    SettingSpec(
        "trusted_proxies",
        _networks,
        "127.0.0.1",
        "Addresses or networks of reverse proxies whose X-Forwarded-For is believed.",
        "comma-separated IPs or CIDRs",
    ),
    SettingSpec(
        "scanner_markers",
        _words,
        "",
        "Extra user-agent substrings that mark a link scanner, added to the built-in list.",
        "comma-separated words",
    ),
    SettingSpec(
        "apple_networks",
        _networks,
        "17.0.0.0/8",
        "Networks Apple's Mail Privacy Protection fetches from.",
        "comma-separated CIDRs",
    ),
    SettingSpec(
        "scanner_networks",
        _networks,
        "",
        "Networks (e.g. security vendors' datacenters) whose hits are scanners.",
        "comma-separated CIDRs",
    ),
    SettingSpec(
        "outbox_max_events",
        _int_range(1000, 10**9),
        "1000000",
        "Most events the local outbox holds while "
        "the warehouse is behind or down; past it new hits are answered but not recorded (and counted).",
        "a whole number, 1000 or more",
    ),
    SettingSpec(
        "outbox_sync",
        _sync,
        "full",
        "SQLite synchronous mode of the outbox: full survives power loss, normal only a process crash.",
        "full or normal",
    ),
    SettingSpec(
        "pipeline_batch_rows",
        _int_range(1, 100000),
        "5000",
        "A batch goes to the warehouse once this many events wait (or the oldest has waited "
        "GA4GW_PIPELINE_MAX_DELAY). Fewer, larger inserts mean fewer parts for ClickHouse to merge.",
        "1 to 100000",
    ),
    SettingSpec(
        "pipeline_max_delay",
        _float_positive,
        "1.0",
        "Longest wait, in seconds, before a partial batch is written to the warehouse.",
        "a positive number of seconds",
    ),
    SettingSpec(
        "ga4_measurement_id",
        _measurement_id,
        "",
        "GA4 measurement id. Empty (or no secret) runs the GA4 relay dry: payloads are validated and kept, not sent.",
        "G-XXXXXXXXXX",
    ),
    SettingSpec(
        "ga4_api_secret",
        _str,
        "",
        "Measurement Protocol API secret of the GA4 data stream.",
        "the secret from GA4's admin",
        secret=True,
    ),
    SettingSpec(
        "ga4_origin",
        _http_url,
        "https://www.google-analytics.com",
        "Measurement Protocol origin; https://region1.google-analytics.com for EU collection.",
        "an http(s) URL",
    ),
    SettingSpec(
        "sql_max_seconds",
        _float_positive,
        "60",
        "Longest run of one query on the analyst SQL interface.",
        "a positive number of seconds",
    ),
    SettingSpec(
        "sql_max_result_rows",
        _int_range(0, 10**12),
        "10000000",
        "Most rows one analyst query may return through the gateway (0 = no limit).",
        "a whole number",
    ),
    *_ATTRIBUTION,
    SettingSpec(
        "log_level", _log_level, "info", "Log level: debug, info, warning or error.", "debug, info, warning or error"
    ),
)
