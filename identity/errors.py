"""Errors of the identity package.

IdentityError                 base of every error raised here
+-- InvalidIdentifier         an identifier or edge cannot be used (unknown kind, empty or unsafe value, naive time)
+-- UnknownIdentifier         a lookup named an identifier the graph has never seen (``explain``)
"""

from __future__ import annotations

__all__ = ["IdentityError", "InvalidIdentifier", "UnknownIdentifier"]


class IdentityError(Exception):
    """Base of the identity errors."""


class InvalidIdentifier(IdentityError, ValueError):
    """An identifier or an edge is malformed; ``value`` is what was given (a pseudonym or id, never raw PII)."""

    def __init__(self, message: str, value: str = "") -> None:
        super().__init__(message)
        self.value = value


class UnknownIdentifier(IdentityError, LookupError):
    """The graph holds no edge for ``identifier`` (its ``kind:value`` key)."""

    def __init__(self, identifier: str) -> None:
        super().__init__(f"no edge names {identifier}")
        self.identifier = identifier
