"""Errors of the gateway package.

    GatewayError                  base of everything raised here
    +-- SettingsError             a setting has a bad value (names the variable)
    +-- AuthError                 an API token was refused (maps to 401/403)
    |   +-- TokenInvalid          missing, malformed, badly signed, wrong issuer/audience, expired
    |   +-- ScopeMissing          valid token without the scope the route needs
    +-- CommandError              a CLI command failed for a reason the user can act on (exit status)
    +-- InvalidRequest            an API request body is wrong (maps to 400/413/422, names the fields)
    +-- RateLimited               a client went past one of its rate limits (maps to 429 with Retry-After)
    +-- ErasureFailed             a step of an erasure failed after its audit row recorded it (maps to 503)
    +-- DestinationRefused        a link to a host outside GA4GW_LINK_DESTINATIONS (also a ValueError)
    +-- MalformedList             a vendor's published network list is not in its format (also a ValueError)

HTTP mapping happens once, in ``gateway.service.app``.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "DestinationRefused",
    "ErasureFailed",
    "GatewayError",
    "InvalidRequest",
    "MalformedList",
    "RateLimited",
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


class RateLimited(GatewayError):
    """A client went past the rate limit ``limit`` (``auth_failures``, ``api``, ``mp``) of ``rate`` (e.g.
    ``10 per 1 minute``); it may try again in ``retry_after`` seconds."""

    def __init__(self, limit: str, rate: str, retry_after: int) -> None:
        super().__init__(f"too many requests ({limit}: at most {rate}); try again in {retry_after} s")
        self.limit = limit
        self.rate = rate
        self.retry_after = retry_after


class ErasureFailed(GatewayError):
    """Erasure ``erasure_id`` stopped at ``step`` (``outbox``, ``ga4_ledger``, ``warehouse.<table>``...); its audit
    row says so and counts what was erased before. The cause is chained; running the erasure again finishes it."""

    def __init__(self, erasure_id: str, step: str) -> None:
        super().__init__(f"erasure {erasure_id} stopped at {step}: what was erased before is in its audit row; "
                         "run the same erasure again")  # fmt: skip
        self.erasure_id = erasure_id
        self.step = step


class DestinationRefused(GatewayError, ValueError):
    """A link's destination host is not in ``GA4GW_LINK_DESTINATIONS``; ``url`` is the destination."""

    def __init__(self, url: str, host: str) -> None:
        super().__init__(f"links may not lead to {host or 'a URL without a host'} (GA4GW_LINK_DESTINATIONS)")
        self.url = url
        self.host = host


class CommandError(GatewayError):
    """A command failed for a reason the user can act on; ``status`` is the exit code."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class MalformedList(GatewayError, ValueError):
    """A vendor's published network list is not in its format (``networks_refresh``): ``source:line: reason``."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source, self.line, self.reason = source, line, reason
