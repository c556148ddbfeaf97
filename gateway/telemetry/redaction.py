"""What may be written to the log of an error whose text came from elsewhere (an engine, a driver, a client).

A warehouse error quotes the row it refused, and a row can hold an email inside a URL; a driver error
can quote a URL with its ``api_secret``. ``redact`` keeps the shape of such a text (enough to find the
cause) and replaces what must never be logged. ``/readyz`` shows none of it: only codes and fixed words.
"""

from __future__ import annotations

import re
import traceback

__all__ = ["described", "redact"]

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # JWTs (API and landing tokens), before the email rule: their dots would not stop it
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), "<token>"),
    (re.compile(r"[^\s@\"'<>(),;:/?&=\\]+(?:@|%40)[^\s@\"'<>(),;:/?&=\\]+\.[A-Za-z]{2,}"), "<email>"),
    # credentials in URLs and query strings, whatever their name's case
    (
        re.compile(r"(?i)((?:api_secret|password|secret|token|key|authorization)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+"),
        r"\1<redacted>",
    ),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1<redacted>"),
    (re.compile(r"(?i)(https?://[^/\s:@]+:)[^@\s/]+@"), r"\1<redacted>@"),
)


def redact(text: str, limit: int = 2000) -> str:
    """``text`` without emails, tokens, secrets or passwords, cut to ``limit`` characters."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text if len(text) <= limit else text[:limit] + "..."


def described(exc: BaseException) -> str:
    """An exception for the log: where it was raised (the frames) and its redacted message, never its raw text."""
    frames = "".join(traceback.format_tb(exc.__traceback__)) if exc.__traceback__ else ""
    return f"{type(exc).__name__}: {redact(str(exc))}\n{frames}".rstrip()
