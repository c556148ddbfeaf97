"""API tokens: JWTs signed with HS256 (pinned), with key ids so keys can rotate.

Claims: ``iss`` and ``aud`` fixed and checked, ``exp`` required, ``iat``, ``jti``,
``sub`` (who the token is for) and ``scope`` (space-separated, e.g. ``links:write``).

A token whose ``jti`` was revoked (``ga4gw token revoke``, see ``revocation``) is refused like an expired one.
Every refusal counts against the client's failed-authentication rate (``ratelimit``) and is logged without the
token; a client past that rate gets 429 before its token is even looked at.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import jwt
from starlette.requests import Request

from gateway.config.keys import Keyring
from gateway.errors import AuthError, ScopeMissing, TokenInvalid

from .ratelimit import RateLimits, client_address

__all__ = ["AUDIENCE", "ISSUER", "SCOPES", "Principal", "TokenAuthority", "authenticate"]

ISSUER = "ga4gw"
AUDIENCE = "ga4gw-api"
ALGORITHM = "HS256"
SCOPES = frozenset(
    {
        "links:write",
        "events:write",
        "consent:write",
        "consent:read",
        "erasure:write",
        "identity:write",
        "identity:read",
        "reports:read",
        "attribution:run",
        "events:import",
        "audiences:read",
        "sql:read",
        "ga4:read",
        "admin",
    }
)


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    subject: str
    scopes: frozenset[str]
    token_id: str

    def require(self, scope: str) -> None:
        """Raise ``ScopeMissing`` unless the token grants ``scope`` (``admin`` grants all)."""
        if scope not in self.scopes and "admin" not in self.scopes:
            raise ScopeMissing(scope)


class TokenAuthority:
    """Issues and verifies API tokens with one keyring."""

    def __init__(self, keyring: Keyring, *, leeway: float = 30.0, revoked: Callable[[str], bool] | None = None) -> None:
        self._keyring = keyring
        self._leeway = leeway
        self._revoked = revoked

    def issue(self, subject: str, scopes: Iterable[str], ttl_seconds: float, *, now: float | None = None) -> str:
        """A signed token for ``subject`` with ``scopes``, valid ``ttl_seconds``."""
        wanted = sorted(set(scopes))
        unknown = [s for s in wanted if s not in SCOPES]
        if unknown or not wanted:
            raise ValueError(f"unknown or missing scopes {unknown}; known: {', '.join(sorted(SCOPES))}")
        issued = time.time() if now is None else now
        kid, secret = self._keyring.current
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "scope": " ".join(wanted),
            "iat": int(issued),
            "exp": int(issued + ttl_seconds),
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid})

    def verify(self, token: str) -> Principal:
        """Check signature, issuer, audience, expiry and revocation; raise ``TokenInvalid`` with the reason."""
        claims = self._decode(token, check_expiry=True)
        jti = str(claims.get("jti", ""))
        if self._revoked is not None and jti and self._revoked(jti):
            raise TokenInvalid("the token has been revoked")
        scopes = frozenset(str(claims.get("scope", "")).split())
        return Principal(subject=str(claims["sub"]), scopes=scopes, token_id=jti)

    def identify(self, token: str) -> tuple[str, float, str]:
        """The ``jti``, ``exp`` and ``sub`` of a token signed with this keyring, expired or not (for revoking it)."""
        claims = self._decode(token, check_expiry=False)
        exp = claims["exp"]
        return str(claims.get("jti", "")), float(exp) if isinstance(exp, int | float) else 0.0, str(claims["sub"])

    def _decode(self, token: str, *, check_expiry: bool) -> dict[str, object]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise TokenInvalid("the token is not a JWT") from None
        secret = self._keyring.get(kid) if isinstance(kid, str) else None
        if secret is None:
            raise TokenInvalid("the token's key id is unknown")
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_exp": check_expiry},
            )
        except jwt.ExpiredSignatureError:
            raise TokenInvalid("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise TokenInvalid(f"the token was refused: {exc}") from None
        return claims


def authenticate(request: Request, scope: str) -> Principal:
    """The principal of the request's bearer token, which must grant ``scope``; raises ``AuthError``, or
    ``RateLimited`` when the client failed too often lately. A refusal is counted and logged (never the token)."""
    limits: RateLimits = request.app.state.rate_limits
    client = client_address(request.scope)
    limits.check_auth(client)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    try:
        if scheme.lower() != "bearer" or not token:
            raise TokenInvalid("send an API token as 'Authorization: Bearer <token>'")
        authority: TokenAuthority = request.app.state.authority
        principal = authority.verify(token)
        principal.require(scope)
    except AuthError as exc:
        reason = str(exc).replace(token, "<token>") if token else str(exc)  # never log the credential
        limits.auth_failed(client, request.url.path, reason)
        raise
    return principal
