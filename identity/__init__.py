"""Pseudonymous identity: keyed pseudonyms with key rotation, landing tokens (the identity graph comes next).

It may import ``warehouse`` only.
"""

from .landing import LANDING_AUDIENCE, LandingClaims, LandingTokens
from .pseudonym import Pseudonymizer, normalize_email

__all__ = ["LANDING_AUDIENCE", "LandingClaims", "LandingTokens", "Pseudonymizer", "normalize_email"]
