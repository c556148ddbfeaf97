"""Landing tokens: a short-lived signed JWT on the click's redirect URL that the shop's site trades later.

It carries the recipient's pseudonym (never the sender's raw key: the landing URL is seen by the
shop's own analytics), the campaign, the link and the click's event id. HS256 pinned, ``iss``,
``aud``, ``exp`` (at most 30 minutes) and ``jti`` checked.

Issuing is on the click's hot path, so it writes the standard compact JWS itself (the header
encoded once per key, one HMAC per token): PyJWT spends most of its time preparing the key on
every call. Verification, where strictness matters, is PyJWT's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass

import jwt

__all__ = ["LANDING_AUDIENCE", "LandingClaims", "LandingTokens"]

LANDING_AUDIENCE = "ga4gw-landing"
_ISSUER = "ga4gw"
_MAX_TTL = 1800


@dataclass(frozen=True)
class LandingClaims:
    recipient_pseudonym: str
    campaign_id: str
    link_id: str
    event_id: str
    expires_at: int


class LandingTokens:
    """Issues and verifies landing tokens with a keyring of (key id, secret), newest first."""

    def __init__(self, keys: Sequence[tuple[str, str]], ttl_seconds: int = _MAX_TTL) -> None:
        if not keys:
            raise ValueError("landing tokens need at least one key")
        if not 0 < ttl_seconds <= _MAX_TTL:
            raise ValueError("a landing token lives at most 30 minutes")
        self._keys = dict(keys)
        kid, secret = keys[0]
        header = json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}, separators=(",", ":")).encode()
        self._header = _b64(header) + b"."
        self._secret = secret.encode()
        self.ttl = ttl_seconds

    def issue(self, *, recipient_pseudonym: str, campaign_id: str, link_id: str, event_id: str, now: float) -> str:
        claims = {
            "iss": _ISSUER,
            "aud": LANDING_AUDIENCE,
            "exp": int(now) + self.ttl,
            "jti": event_id,
            "rcp": recipient_pseudonym,
            "cmp": campaign_id,
            "lnk": link_id,
        }
        signing_input = self._header + _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._secret, signing_input, hashlib.sha256).digest()
        return (signing_input + b"." + _b64(signature)).decode()

    def verify(self, token: str) -> LandingClaims:
        """Decode a landing token; raises ``jwt.PyJWTError`` (expired, tampered, unknown key...)."""
        kid = jwt.get_unverified_header(token).get("kid")
        secret = self._keys.get(kid) if isinstance(kid, str) else None
        if secret is None:
            raise jwt.InvalidKeyError("unknown key id")
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], audience=LANDING_AUDIENCE, issuer=_ISSUER,
            options={"require": ["exp", "jti", "iss", "aud"]},
        )  # fmt: skip
        return LandingClaims(
            recipient_pseudonym=str(claims.get("rcp", "")),
            campaign_id=str(claims.get("cmp", "")),
            link_id=str(claims.get("lnk", "")),
            event_id=str(claims["jti"]),
            expires_at=int(claims["exp"]),
        )


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")
