"""Landing tokens: a short-lived signed JWT on the click's redirect URL that the shop's site trades later.

It carries the recipient's pseudonym (never the sender's raw key: the landing URL is seen by the
shop's own analytics), the campaign, the link and the click's event id. HS256 pinned, ``iss``,
``aud``, ``exp`` (at most 30 minutes) and ``jti`` checked.

The pseudonym is sealed (``rcp``: AES-256-GCM under a key derived from the signing key, a random
nonce per token, the token's ``jti`` as associated data): whoever reads the landing URL (the shop's
analytics, a forwarded link, a log) sees a value that differs on every click, so tokens cannot be
joined across clicks or campaigns; only the gateway opens it, when ``POST /v1/identify`` redeems
the token. Random 96-bit nonces are safe for 2^32 tokens per key: rotate the signing keys before.

Issuing is on the click's hot path, so it writes the standard compact JWS itself (the header
encoded once per key, one HMAC per token): PyJWT spends most of its time preparing the key on
every call. Verification, where strictness matters, is PyJWT's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
        self._seals = {k: AESGCM(_seal_key(secret)) for k, secret in keys}
        kid, secret = keys[0]
        self._seal = self._seals[kid]
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
            "rcp": self._sealed(recipient_pseudonym, event_id) if recipient_pseudonym else "",
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
        sealed = claims.get("rcp", "")
        return LandingClaims(
            recipient_pseudonym=self._opened(str(kid), sealed, str(claims["jti"])) if sealed else "",
            campaign_id=str(claims.get("cmp", "")),
            link_id=str(claims.get("lnk", "")),
            event_id=str(claims["jti"]),
            expires_at=int(claims["exp"]),
        )

    def _sealed(self, pseudonym: str, jti: str) -> str:
        nonce = os.urandom(12)
        return _b64(nonce + self._seal.encrypt(nonce, pseudonym.encode(), jti.encode())).decode()

    def _opened(self, kid: str, sealed: object, jti: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(str(sealed) + "=" * (-len(str(sealed)) % 4))
            return self._seals[kid].decrypt(raw[:12], raw[12:], jti.encode()).decode()
        except (InvalidTag, ValueError) as exc:  # signed by us yet unreadable: refuse it like a bad token
            raise jwt.InvalidTokenError("the recipient cannot be read") from exc


def _seal_key(secret: str) -> bytes:
    """The AES key that seals recipients: a separate key derived from the signing secret."""
    return hmac.new(secret.encode(), b"ga4gw-landing-recipient", hashlib.sha256).digest()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")
