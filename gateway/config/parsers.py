"""What a setting is (``SettingSpec``) and the parsers of setting values.

Each parser takes the raw text and returns the value or raises ``ValueError``.

``setting_specs`` names one of these for every setting; the error text is shown with the variable's name.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from consent import parse_purposes, parse_regions

_HOST = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*|[0-9a-f:.]+")

__all__ = [
    "PREFIX",
    "SettingSpec",
    "boolean",
    "choice",
    "days",
    "dsn",
    "event_names",
    "float_positive",
    "hosts",
    "http_url",
    "identifier",
    "int_range",
    "keyring_text",
    "log_level",
    "measurement_id",
    "networks",
    "optional_url",
    "parse_keyring",
    "purposes",
    "regions",
    "seconds_upto",
    "sync_mode",
    "text",
    "time_of_day",
    "weight",
    "words",
]


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


def text(value: str) -> str:
    return value.strip()


def int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value.strip())
        if not lo <= number <= hi:
            raise ValueError(f"{number} is outside {lo}..{hi}")
        return number

    return parse


def float_positive(value: str) -> float:
    number = float(value.strip())
    if number <= 0:
        raise ValueError("must be positive")
    return number


def seconds_upto(hi: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        number = float(value.strip())
        if not 0 <= number <= hi:
            raise ValueError(f"{number} is outside 0..{hi:g}")
        return number

    return parse


def http_url(value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return value


def dsn(value: str) -> str:
    value = value.strip()
    if value and not value.startswith(("chdb://", "http://", "https://")):
        raise ValueError("unknown scheme")
    return value


def identifier(value: str) -> str:
    value = value.strip()
    if value and not value.replace("_", "").replace("-", "").isalnum():
        raise ValueError("only letters, digits, '_' and '-'")
    return value


def measurement_id(value: str) -> str:
    value = value.strip()
    if value and not (value.startswith("G-") and value[2:].isalnum()):
        raise ValueError("not a G-XXXXXXX measurement id")
    return value


def log_level(value: str) -> str:
    value = value.strip().lower()
    if value not in ("debug", "info", "warning", "error"):
        raise ValueError("unknown level")
    return value


def boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("not a boolean")


def optional_url(value: str) -> str:
    return http_url(value) if value.strip() else ""


def networks(value: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in value.split(",") if item.strip())
    for item in items:
        ipaddress.ip_network(item, strict=False)
    return items


def hosts(value: str) -> tuple[str, ...]:
    """Comma-separated host or domain names (``shop.example``, ``www.shop.example``), lower-cased."""
    items = tuple(item.strip().lower().removeprefix("*.").strip(".") for item in value.split(",") if item.strip())
    for item in items:
        if not _HOST.fullmatch(item):
            raise ValueError(f"{item!r} is not a host name")
    return items


def words(value: str) -> tuple[str, ...]:
    return tuple(item.strip().lower() for item in value.split(",") if item.strip())


def sync_mode(value: str) -> str:
    value = value.strip().lower()
    if value not in ("full", "normal"):
        raise ValueError("unknown mode")
    return value


def choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip().lower()
        if value not in options:
            raise ValueError(f"not one of {', '.join(options)}")
        return value

    return parse


def regions(value: str) -> tuple[str, ...]:
    return tuple(sorted(parse_regions(value)))


def purposes(value: str) -> tuple[str, ...]:
    return tuple(sorted(p.value for p in parse_purposes(value)))


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


def keyring_text(value: str) -> str:
    parse_keyring(value)  # validate now, keep the text wrapped in a Secret
    return value.strip()


def days(value: str) -> float:
    number = float(value.strip())
    if not 0 < number <= 3650:
        raise ValueError(f"{number} is outside 0..3650")
    return number


def weight(value: str) -> float:
    number = float(value.strip())
    if not 0 <= number <= 100:
        raise ValueError(f"{number} is outside 0..100")
    return number


def event_names(value: str) -> tuple[str, ...]:
    names = tuple(item.strip() for item in value.split(",") if item.strip())
    if not names:
        raise ValueError("name at least one event")
    for name in names:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"{name!r} is not an event name")
    return names


def time_of_day(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    hours, sep, minutes = value.partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ValueError("not HH:MM")
    return f"{int(hours):02d}:{int(minutes):02d}"
