"""Argument types shared by command groups: durations (``90d``) and ``NAME=VALUE`` pairs."""

from __future__ import annotations

import argparse
import re

__all__ = ["duration", "param"]

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> int:
    """Seconds of a duration like 30m, 12h or 90d."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 12h or 90d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def param(text: str) -> tuple[str, str]:
    """A ``NAME=VALUE`` pair of a query placeholder."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not name=value")
    return name, value
