"""Rate limits per client: failed authentications, and requests to ``/v1/*`` and ``/mp/collect``.

A client is its address as uvicorn resolved it (``scope["client"]``: ``X-Forwarded-For`` is believed only from
``GA4GW_TRUSTED_PROXIES``), the same address the tracking edge sees. The counters are the ``limits`` library's
sliding window counters (two numbers per client and limit), kept in this process's memory: each gateway process
counts on its own. Rates are in its notation (``10/minute``, ``20/second;600/minute``); empty turns a limit off.

- **Failed authentication** (``GA4GW_RATE_AUTH_FAILURES``): every refused API token or MP api_secret counts and is
  logged (client, route, reason; never the token or secret). Past the rate, every request that needs
  authentication from that client gets 429 before its credentials are looked at, so guessing runs at the rate
  and no faster. ``check_auth`` and ``auth_failed`` are what a route calls (``auth.authenticate`` does).
- **API and MP traffic** (``GA4GW_RATE_API``, ``GA4GW_RATE_MP``): ``RateLimitMiddleware``, a pure ASGI middleware
  behind the tracking edge's dispatch, so ``/o/`` and ``/c/`` never pass through it.

A limited request gets ``429`` with ``Retry-After`` (seconds) and ``{"error": "rate_limited", "limit": <name>,
"rate": "10 per 1 minute", "retry_after": <seconds>}``.
"""

from __future__ import annotations

import json
import logging
import math
import time

import limits
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import RateLimited

__all__ = ["RateLimitMiddleware", "RateLimits", "client_address", "rate_limited_response"]

log = logging.getLogger("ga4gw.auth")


def client_address(scope: Scope) -> str:
    """The client's address as the proxy-aware server resolved it ("" when unknown)."""
    client = scope.get("client")
    return str(client[0]) if client else ""


class RateLimits:
    """The three limits of one gateway process, with their counters."""

    def __init__(self, auth_failures: str, api: str, mp: str) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._limits = {
            "auth_failures": limits.parse_many(auth_failures) if auth_failures else [],
            "api": limits.parse_many(api) if api else [],
            "mp": limits.parse_many(mp) if mp else [],
        }

    def check_auth(self, client: str) -> None:
        """Raise ``RateLimited`` when ``client`` failed to authenticate too often lately (counts nothing)."""
        for item in self._limits["auth_failures"]:
            if not self._limiter.test(item, "auth", client):
                raise self._refusal("auth_failures", item, client)

    def auth_failed(self, client: str, route: str, reason: str) -> None:
        """Count and log a refused credential. ``reason`` must not hold it (callers pass the error's text)."""
        log.warning("authentication failed: client=%s route=%s reason=%s", client or "?", route, reason)
        for item in self._limits["auth_failures"]:
            self._limiter.hit(item, "auth", client)

    def hit(self, name: str, client: str) -> RateLimited | None:
        """Count a request against limit ``name`` (``api``, ``mp``); the refusal when it is past the rate."""
        for item in self._limits[name]:
            if not self._limiter.hit(item, name, client):
                return self._refusal(name, item, client)
        return None

    def _refusal(self, name: str, item: limits.RateLimitItem, client: str) -> RateLimited:
        reset = self._limiter.get_window_stats(item, name if name != "auth_failures" else "auth", client).reset_time
        return RateLimited(name, str(item), max(1, math.ceil(reset - time.time())))


def rate_limited_response(exc: RateLimited) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of the 429 answer."""
    body = json.dumps(
        {
            "error": "rate_limited",
            "limit": exc.limit,
            "rate": exc.rate,
            "retry_after": exc.retry_after,
            "detail": str(exc),
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(exc.retry_after).encode()),
    ]
    return 429, headers, body


class RateLimitMiddleware:
    """Pure ASGI: ``/v1/*`` counts against ``api``, ``/mp/collect`` against ``mp``; the rest passes untouched."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            name = "api" if path.startswith("/v1/") else "mp" if path == "/mp/collect" else ""
            refused = self.limits.hit(name, client_address(scope)) if name else None
            if refused is not None:
                status, headers, body = rate_limited_response(refused)
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
