"""Errors of the gateway package.

    GatewayError                  base of everything raised here
    +-- SettingsError             a setting has a bad value (names the variable)
    +-- AuthError                 an API token was refused (maps to 401/403)
    |   +-- TokenInvalid          missing, malformed, badly signed, wrong issuer/audience, expired
    |   +-- ScopeMissing          valid token without the scope the route needs
    +-- InvalidRequest            an API request body is wrong (maps to 400/413/422, names the fields)
    +-- DestinationRefused        a link to a host outside GA4GW_LINK_DESTINATIONS (also a ValueError)

HTTP mapping happens once, in ``gateway.app``.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "DestinationRefused",
    "GatewayError",
    "InvalidRequest",
    "ScopeMissing",
    "SettingsError",
    "TokenInvalid",
]


class GatewayError(Exception):
    """Base of the gateway's own errors."""


class SettingsError(GatewayError):
    """A setting is wrong; ``variable`` is the environment variable (or file) to fix."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


class AuthError(GatewayError):
    """An API token was refused; ``status`` is the HTTP status to answer with."""

    status = 401


class TokenInvalid(AuthError):
    """The token is missing, malformed, badly signed, expired, or for another issuer or audience."""


class ScopeMissing(AuthError):
    """The token is valid but lacks ``scope``."""

    status = 403

    def __init__(self, scope: str) -> None:
        super().__init__(f"the token lacks the scope {scope!r}")
        self.scope = scope


class InvalidRequest(GatewayError):
    """A request body that cannot be used; ``fields`` maps each wrong field (a dotted path) to what is wrong."""

    def __init__(self, detail: str, fields: dict[str, str] | None = None, status: int = 422) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or {}
        self.status = status


class DestinationRefused(GatewayError, ValueError):
    """A link's destination host is not in ``GA4GW_LINK_DESTINATIONS``; ``url`` is the destination."""

    def __init__(self, url: str, host: str) -> None:
        super().__init__(f"links may not lead to {host or 'a URL without a host'} (GA4GW_LINK_DESTINATIONS)")
        self.url = url
        self.host = host
