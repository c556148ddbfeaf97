"""Keyed pseudonyms: HMAC-SHA256 of a normalised identifier, with the key id in the result.

The same identifier under the same key always gives the same pseudonym, so events join
without any raw identifier being stored; the key id in the pseudonym lets the key rotate
(during a transition, ``candidates`` gives the pseudonym under every key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["Pseudonymizer", "normalize_email"]


def normalize_email(email: str) -> str:
    """Trim and lower-case an email address (the form that is hashed)."""
    return email.strip().lower()


class Pseudonymizer:
    """Turns identifiers into pseudonyms with a keyring of (key id, secret), newest first."""

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        if not keys:
            raise ValueError("a pseudonymizer needs at least one key")
        self._keys = [(kid, secret.encode()) for kid, secret in keys]
        # The same recipients come back click after click; remember their pseudonyms.
        self.pseudonym = lru_cache(maxsize=65536)(self._pseudonym)  # type: ignore[method-assign]

    @staticmethod
    def _digest(secret: bytes, kind: str, value: str) -> str:
        mac = hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).digest()
        return base64.b32encode(mac[:16]).decode().rstrip("=").lower()

    def pseudonym(self, kind: str, value: str) -> str:
        """The pseudonym of ``value`` (already normalised) of ``kind`` under the newest key."""
        return self._pseudonym(kind, value)

    def _pseudonym(self, kind: str, value: str) -> str:
        kid, secret = self._keys[0]
        return f"{kind}_{kid}_{self._digest(secret, kind, value)}"

    def email(self, email: str) -> str:
        """The pseudonym of an email address; ``""`` for an empty one."""
        normalized = normalize_email(email)
        return self.pseudonym("em", normalized) if normalized else ""

    def clear_cache(self) -> None:
        """Forget the remembered pseudonyms, whose raw identifiers are the cache's keys (after an erasure)."""
        self.pseudonym.cache_clear()  # type: ignore[attr-defined]

    def candidates(self, kind: str, value: str) -> list[str]:
        """The pseudonyms of ``value`` under every key, newest first (for lookups during rotation)."""
        return [f"{kind}_{kid}_{self._digest(secret, kind, value)}" for kid, secret in self._keys]
