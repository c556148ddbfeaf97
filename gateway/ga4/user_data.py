"""User-provided data (MP ``user_data``, enhanced conversions): normalised and SHA-256 hashed as Google specifies.

Google's rules (https://developers.google.com/analytics/devguides/collection/ga4/uid-data, the same as the Google
Ads API's enhanced conversions): before hashing, trim and lower-case; an email at gmail.com or googlemail.com
loses every '.' before the '@'; a phone number keeps its digits behind a '+' (E.164); first and last names lose
digits and symbols, a street its symbols. ``city``, ``region``, ``postal_code`` and ``country`` travel unhashed
(city and region without digits or symbols, postal code without '.' and '~'). A value that already is 64
hexadecimal digits was hashed by the sender and is kept as it is (lower-cased).

What this returns is what GA4 may receive; it is never stored in the warehouse (see ``stores.outbox``: the
outbox's ``private`` column, and ``ga4.ledger``), and ``email_hash`` lets an erasure find it again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

__all__ = ["email_hash", "normalize_email", "normalize_phone", "prepare"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_GMAIL = frozenset({"gmail.com", "googlemail.com"})


def normalize_email(text: str) -> str:
    """Trimmed, lower-case; a Gmail address without the dots of its local part."""
    address = text.strip().lower()
    local, at, domain = address.rpartition("@")
    if at and domain in _GMAIL:
        return f"{local.replace('.', '')}@{domain}"
    return address


def normalize_phone(text: str) -> str:
    """E.164 as Google hashes it: every non-digit removed, a '+' in front ("" without digits)."""
    digits = re.sub(r"\D", "", text)
    return f"+{digits}" if digits else ""


def _letters(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalpha() or c.isspace()).split())


def _street(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


def _postal(text: str) -> str:
    return text.replace(".", "").replace("~", "").strip()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def email_hash(email: str) -> str:
    """The hex SHA-256 of an email as GA4 receives it in ``user_data`` (an erasure's needle)."""
    return _sha256(normalize_email(email))


def _hashed(value: object, normalize: Callable[[str], str]) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if _HEX64.fullmatch(text):
        return text
    normal = normalize(value)
    return _sha256(normal) if normal else None


_LISTS: dict[str, Callable[[str], str]] = {
    "sha256_email_address": normalize_email,
    "sha256_phone_number": normalize_phone,
}
_ADDRESS_HASHED: dict[str, Callable[[str], str]] = {
    "sha256_first_name": _letters,
    "sha256_last_name": _letters,
    "sha256_street": _street,
}
_ADDRESS_PLAIN: dict[str, Callable[[str], str]] = {
    "city": _letters,
    "region": _letters,
    "postal_code": _postal,
    "country": lambda text: text.strip().upper(),
}


def prepare(user_data: object) -> tuple[dict[str, Any], list[str]]:
    """``user_data`` as GA4 may receive it, and the paths of what was left out (unknown, empty or not text).

    A single string where Google wants a list is taken as a list of one.
    """
    if not isinstance(user_data, dict):
        return {}, ["user_data"]
    out: dict[str, Any] = {}
    left: list[str] = []
    for key, entries in user_data.items():
        entries = [entries] if isinstance(entries, (str, dict)) else entries
        if key not in (*_LISTS, "address") or not isinstance(entries, list):
            left.append(f"user_data.{key}")
            continue
        kept: list[Any] = []
        for i, entry in enumerate(entries):
            if key == "address":
                address = _address(entry, f"user_data.address[{i}]", left)
                if address:
                    kept.append(address)
                continue
            digest = _hashed(entry, _LISTS[key])
            if digest is None:
                left.append(f"user_data.{key}[{i}]")
            else:
                kept.append(digest)
        if kept:
            out[key] = kept
    return out, left


def _address(entry: object, here: str, left: list[str]) -> dict[str, str]:
    if not isinstance(entry, dict):
        left.append(here)
        return {}
    address: dict[str, str] = {}
    for name, value in entry.items():
        if name in _ADDRESS_HASHED:
            digest = _hashed(value, _ADDRESS_HASHED[name])
            if digest is not None:
                address[name] = digest
                continue
        elif name in _ADDRESS_PLAIN and isinstance(value, str) and _ADDRESS_PLAIN[name](value):
            address[name] = _ADDRESS_PLAIN[name](value)
            continue
        left.append(f"{here}.{name}")
    return address
