"""Errors of the consent package.

ConsentError                  base of every error raised here
+-- InvalidConsent            a consent event or policy input cannot be used (unknown purpose, region...)
+-- ErasureStepFailed         the warehouse failed one step of an erasure; says which, and what was done before
+-- TcfError                  a TCF TC string cannot be decoded; ``field`` names the part that is wrong
    +-- TcfVersionError       the string is of a TCF version other than 2
"""

from __future__ import annotations

__all__ = ["ConsentError", "ErasureStepFailed", "InvalidConsent", "TcfError", "TcfVersionError"]


class ConsentError(Exception):
    """Base of the consent errors."""


class InvalidConsent(ConsentError, ValueError):
    """A consent event, purpose, region or policy setting is malformed; the message says which."""


class ErasureStepFailed(ConsentError):
    """The warehouse failed while erasing ``step`` (a table name, or ``keys``); ``rows`` holds the rows deleted
    before it, per table. The warehouse's own error is the ``__cause__``. No personal data in either."""

    def __init__(self, step: str, rows: dict[str, int]) -> None:
        super().__init__(f"the warehouse failed while erasing from {step}")
        self.step = step
        self.rows = dict(rows)


class TcfError(ConsentError, ValueError):
    """A TC string is malformed. ``field`` is the part at fault (e.g. ``encoding``, ``length``, ``ConsentLanguage``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"TC string: {field}: {reason}")
        self.field = field
        self.reason = reason


class TcfVersionError(TcfError):
    """The TC string's version field is not 2 (TCF v1 strings and future versions are refused)."""

    def __init__(self, version: int) -> None:
        super().__init__("Version", f"version {version} is not supported (only TCF v2 core strings)")
        self.version = version
