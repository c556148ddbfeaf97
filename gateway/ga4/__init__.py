"""GA4 Measurement Protocol: a local validator speaking Google's validation vocabulary (the relay comes next)."""

from .body import validate_text
from .validate import (
    Code,
    Limits,
    ValidationMessage,
    missing_session_params,
    validate,
    validation_response,
)

__all__ = [
    "Code",
    "Limits",
    "ValidationMessage",
    "missing_session_params",
    "validate",
    "validate_text",
    "validation_response",
]
