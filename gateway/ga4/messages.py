"""The validator's vocabulary: Google's seven codes, one message, the limits of a property.

What ``/debug/mp/collect`` answers is a list of ``{"fieldPath", "description", "validationCode"}``;
``validate.py`` produces these messages, the relay and the ingest routes pass them on as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DEFAULT_LIMITS", "Code", "Limits", "ValidationMessage", "validation_response"]


class Code(StrEnum):
    """Google's seven validation codes, and no others: callers already know what each one means."""

    VALUE_INVALID = "VALUE_INVALID"
    VALUE_REQUIRED = "VALUE_REQUIRED"
    NAME_INVALID = "NAME_INVALID"
    NAME_RESERVED = "NAME_RESERVED"
    VALUE_OUT_OF_BOUNDS = "VALUE_OUT_OF_BOUNDS"
    EXCEEDED_MAX_ENTITIES = "EXCEEDED_MAX_ENTITIES"
    NAME_DUPLICATED = "NAME_DUPLICATED"


@dataclass(frozen=True, slots=True)
class ValidationMessage:
    """One problem: where it is (see the module docstring for paths), what is wrong, Google's code."""

    field_path: str
    description: str
    code: Code

    def as_json(self) -> dict[str, str]:
        """The message as Google's validation server spells it."""
        return {"fieldPath": self.field_path, "description": self.description, "validationCode": self.code.value}


@dataclass(frozen=True)
class Limits:
    """The documented limits of a standard GA4 property; ``Limits(param_value_chars=500)`` for GA4 360."""

    events_per_request: int = 25
    params_per_event: int = 25
    user_properties: int = 25
    event_name_chars: int = 40
    param_name_chars: int = 40
    param_value_chars: int = 100
    user_property_name_chars: int = 24
    user_property_value_chars: int = 36
    item_custom_params: int = 10
    body_bytes: int = 130_000
    max_age_seconds: int = 72 * 3600
    user_id_chars: int = 256


DEFAULT_LIMITS = Limits()


def validation_response(messages: list[ValidationMessage]) -> dict[str, list[dict[str, str]]]:
    """The JSON body Google's validation server would answer for these messages."""
    return {"validationMessages": [message.as_json() for message in messages]}
