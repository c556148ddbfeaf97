"""GA4 Measurement Protocol: the validator (Google's validation vocabulary), the payload builder, the relay
with its delivery ledger and dead letters, and the MP stand-in used by tests and the demo.

May import: ``state``, ``stores``, ``config``, ``telemetry``, the top-level modules, and the domain packages.
"""

from .body import validate_text
from .validate import (
    Behavior,
    Code,
    Limits,
    ValidationMessage,
    behavior_of,
    missing_session_params,
    validate,
    validation_response,
)

__all__ = [
    "Behavior",
    "Code",
    "Limits",
    "ValidationMessage",
    "behavior_of",
    "missing_session_params",
    "validate",
    "validate_text",
    "validation_response",
]
