"""The validator's leaf rules: names, values, amounts, strings of a form, and the walker's shared state.

Each rule belongs to one of three groups, so that a caller can tell which one refused a body:
- malformed-request rules, which Google's validation server applies under both behaviours (``RELAXED`` is
  its default and what its collection applies);
- recommendations and collection limits, applied only under ``ENFORCE_RECOMMENDATIONS`` (``_Check.enforce``);
- the gateway's own rules, where it refuses on purpose what Google takes (``privacy`` and ``storage``; see
  ``validate``'s docstring for the reasons).
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

from .messages import Code, Limits, ValidationMessage

__all__ = ["MAX_AMOUNT", "Check", "Rule", "amount_problem", "name_problem", "proto_value", "value_problem"]

# The warehouse keeps ``value`` as Decimal(18, 6): twelve digits before the point. A larger amount was once
# accepted and then refused by every insert, holding up everything behind it.
MAX_AMOUNT = Decimal(10) ** 12
_CLOCK_SKEW_SECONDS = 60  # a sender's clock a little ahead of ours is not an error
_INTEGER = re.compile(r"[0-9]{1,20}")  # bounded: int() of thousands of digits raises
# Always fullmatch, and [0-9] rather than \d: Unicode digits are not digits to Google.
_NAME_CHARS = re.compile(r"[A-Za-z0-9_]*")
_LETTER = re.compile(r"[A-Za-z]")

# A string's rule: its pattern (None: any string), what the pattern means, and whether only
# ENFORCE_RECOMMENDATIONS checks the pattern (a recommended format) or both behaviours do (an enumeration).
Rule: TypeAlias = tuple[re.Pattern[str] | None, str, bool]
NameRules: TypeAlias = tuple[frozenset[str], tuple[str, ...]]  # reserved names, reserved prefixes

_START = "Names must start with an alphabetic character."
_CHARS = "Only alphanumeric characters and underscores are allowed."


@functools.lru_cache(maxsize=4096)
def name_problem(name: object, max_chars: int, rules: NameRules, enforce: bool) -> tuple[str, Code] | None:
    """What is wrong with a name, if anything: Google's reason sentence and code; cached, the same few names come.

    Google's order: a name that does not start with a letter is NAME_INVALID even where it also has a
    reserved prefix (its own example: ``_badEventName``); then reserved names and prefixes; then the
    characters; the length only under ENFORCE_RECOMMENDATIONS (RELAXED collection truncates it).
    """
    if not isinstance(name, str) or not name or not _LETTER.match(name):
        return _START, Code.NAME_INVALID
    if name in rules[0] or name.startswith(rules[1]):
        return "Google Analytics reserves it.", Code.NAME_RESERVED
    if not _NAME_CHARS.fullmatch(name):
        return _CHARS, Code.NAME_INVALID
    if enforce and len(name) > max_chars:
        return f"Names must be {max_chars} characters or fewer.", Code.NAME_INVALID
    return None


def value_problem(value: object, max_chars: int, enforce: bool) -> tuple[str, Code] | None:
    """A param or property value: a string (up to ``max_chars`` when enforcing), a finite number or a boolean."""
    if isinstance(value, str):
        if enforce and len(value) > max_chars:
            return f"{len(value)} characters; at most {max_chars}", Code.VALUE_OUT_OF_BOUNDS
    elif isinstance(value, float):
        if not math.isfinite(value):
            return "NaN and infinities are not JSON numbers", Code.VALUE_INVALID
    elif not isinstance(value, int):  # bool is an int
        return "must be a string, a number or a boolean", Code.VALUE_INVALID
    return None


def amount_problem(value: object) -> tuple[str, Code] | None:
    """An amount (``value``, an item's ``price`` or ``quantity``): a number, or a string holding one, that the
    warehouse can keep. Stricter than Google's server, which takes an amount of any size."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return "must be a number", Code.VALUE_INVALID
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        return f"must be a number, not {str(value)[:20]!r}", Code.VALUE_INVALID
    if not amount.is_finite():
        return "must be a finite number", Code.VALUE_INVALID
    if abs(amount) >= MAX_AMOUNT:
        return "must be under 1,000,000,000,000 in size", Code.VALUE_OUT_OF_BOUNDS
    return None


def proto_value(value: object) -> str:
    """A value as Google's server quotes it in a description: ``string_value: "1.5kg"``."""
    if isinstance(value, bool):
        return f"bool_value: {str(value).lower()}"
    if isinstance(value, int):
        return f"int_value: {value}"
    if isinstance(value, float):
        return f"double_value: {value!r}"
    return f'string_value: "{value}"'


class Check:
    """Walks one payload and collects its messages; the small checks every part of the body shares."""

    __slots__ = ("enforce", "limits", "long_values", "messages", "newest_micros", "oldest_micros", "privacy",
                 "raw_user_data", "storage")  # fmt: skip

    def __init__(
        self, now: float, limits: Limits, *, enforce: bool, privacy: bool, storage: bool, raw_user_data: bool
    ) -> None:
        self.limits = limits
        # the params allowed longer values (page_location...), looked up once per param: a dict, not a scan
        self.long_values = {name: limits.value_chars(name) for name, _ in limits.long_params}
        self.enforce = enforce
        self.privacy = privacy
        self.storage = storage
        self.raw_user_data = raw_user_data
        self.messages: list[ValidationMessage] = []
        # integer bounds: a huge timestamp compared as a float would overflow
        self.newest_micros = int((now + _CLOCK_SKEW_SECONDS) * 1_000_000)
        self.oldest_micros = int((now - limits.max_age_seconds) * 1_000_000)

    def add(self, path: str, description: str, code: Code) -> None:
        self.messages.append(ValidationMessage(path, description, code))

    def mapping(self, path: str, value: object) -> dict[Any, Any]:
        """The value if it is an object; otherwise one VALUE_INVALID and ``{}``, so there is nothing inside."""
        if isinstance(value, dict):
            return value
        self.add(path, "must be an object", Code.VALUE_INVALID)
        return {}

    def known(self, path: str, obj: dict[Any, Any], allowed: frozenset[str] | dict[str, Any]) -> None:
        """A field Google's parser does not know makes the whole body unparseable: VALUE_INVALID with no path."""
        where = f"({path}) " if path else ""
        for key in obj:
            if key not in allowed:
                self.add("", f"Unable to parse Measurement Protocol JSON payload. {where}{key}: Cannot find field.",
                         Code.VALUE_INVALID)  # fmt: skip

    def count(self, path: str, count: int, limit: int, what: str) -> None:
        if self.enforce and count > limit:
            self.add(path, f"{count} {what}; at most {limit}", Code.EXCEEDED_MAX_ENTITIES)

    def timestamp(self, path: str, value: object) -> None:
        """Microseconds since the epoch; past the 72-hour window only under ENFORCE_RECOMMENDATIONS (RELAXED
        collection moves such an event to the window's start)."""
        micros = int(value) if isinstance(value, str) and _INTEGER.fullmatch(value) else value
        if not isinstance(micros, int) or isinstance(micros, bool) or micros <= 0:
            self.add(path, "must be a positive whole number of microseconds since the epoch", Code.VALUE_INVALID)
        elif micros > self.newest_micros:
            self.add(path, "is in the future", Code.VALUE_INVALID)
        elif self.enforce and micros < self.oldest_micros:
            self.add(path, f"is more than {self.limits.max_age_seconds / 3600:g} hours in the past",
                     Code.VALUE_OUT_OF_BOUNDS)  # fmt: skip

    def string(self, path: str, value: object, rule: Rule) -> None:
        pattern, what, recommended = rule
        if not isinstance(value, str):
            self.add(path, "must be a string", Code.VALUE_INVALID)
        elif pattern is not None and (self.enforce or not recommended) and not pattern.fullmatch(value):
            self.add(path, f"must be {what}", Code.VALUE_INVALID)

    def strings(self, path: str, value: object, rules: dict[str, Rule]) -> None:
        """An object of known fields, each a string of its own form."""
        obj = self.mapping(path, value)
        self.known(path, obj, rules)
        for key, field in obj.items():
            if key in rules:
                self.string(f"{path}.{key}", field, rules[key])
