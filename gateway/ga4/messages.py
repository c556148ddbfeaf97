"""The validator's vocabulary: Google's seven codes, one message, the two behaviours, the limits of a property.

What ``/debug/mp/collect`` answers is a list of ``{"fieldPath", "description", "validationCode"}``;
``validate.py`` produces these messages, the relay and the ingest routes pass them on as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DEFAULT_LIMITS", "Behavior", "Code", "Limits", "ValidationMessage", "validation_response"]


class Code(StrEnum):
    """Google's seven validation codes, and no others: callers already know what each one means."""

    VALUE_INVALID = "VALUE_INVALID"
    VALUE_REQUIRED = "VALUE_REQUIRED"
    NAME_INVALID = "NAME_INVALID"
    NAME_RESERVED = "NAME_RESERVED"
    VALUE_OUT_OF_BOUNDS = "VALUE_OUT_OF_BOUNDS"
    EXCEEDED_MAX_ENTITIES = "EXCEEDED_MAX_ENTITIES"
    NAME_DUPLICATED = "NAME_DUPLICATED"


class Behavior(StrEnum):
    """The body's ``validation_behavior``: how much Google's validation server checks.

    ``RELAXED`` (Google's default, and what its collection applies) refuses only malformed requests:
    what cannot be parsed, names that are not names, reserved names, values of the wrong type.
    ``ENFORCE_RECOMMENDATIONS`` adds the collection limits and recommended formats, which RELAXED
    collection does not refuse (it truncates or drops instead): lengths, counts, the 72-hour window, the
    ``<number>.<number>`` client id.
    """

    RELAXED = "RELAXED"
    ENFORCE_RECOMMENDATIONS = "ENFORCE_RECOMMENDATIONS"


@dataclass(frozen=True, slots=True)
class ValidationMessage:
    """One problem: where it is (see ``validate``'s docstring for paths), what is wrong, Google's code.

    ``field_path`` is ``""`` where Google gives none (a body it cannot parse, a field it does not
    know): the answer then has no ``fieldPath`` key, as Google's has not.
    """

    field_path: str
    description: str
    code: Code

    def as_json(self) -> dict[str, str]:
        """The message as Google's validation server spells it."""
        answer = {"fieldPath": self.field_path} if self.field_path else {}
        return {**answer, "description": self.description, "validationCode": self.code.value}


# Parameters whose values may be longer than the others (Google's collection limits, answer/9267744).
_LONG_PARAMS = (("page_location", 1000), ("page_referrer", 420), ("page_title", 300))


@dataclass(frozen=True)
class Limits:
    """The documented collection limits of a standard GA4 property; ``Limits(param_value_chars=500)`` for GA4 360.

    Only ``ENFORCE_RECOMMENDATIONS`` refuses what exceeds them, except ``body_bytes``, which is a
    limit of the request itself, and ``max_age_seconds``, which the relay also uses to expire events.
    """

    events_per_request: int = 25
    params_per_event: int = 25
    user_properties: int = 25
    event_name_chars: int = 40
    param_name_chars: int = 40
    param_value_chars: int = 100
    user_property_name_chars: int = 24
    user_property_value_chars: int = 36
    item_custom_params: int = 27
    items_per_event: int = 200
    body_bytes: int = 130_000
    max_age_seconds: int = 72 * 3600
    user_id_chars: int = 256
    long_params: tuple[tuple[str, int], ...] = _LONG_PARAMS

    def value_chars(self, name: object) -> int:
        """The most characters a value of the parameter ``name`` may have."""
        for long_name, chars in self.long_params:
            if name == long_name:
                return max(chars, self.param_value_chars)
        return self.param_value_chars


DEFAULT_LIMITS = Limits()


def validation_response(messages: list[ValidationMessage]) -> dict[str, list[dict[str, str]]]:
    """The JSON body Google's validation server would answer for these messages."""
    return {"validationMessages": [message.as_json() for message in messages]}
