"""``POST /debug/mp/collect``: Google's validation server, answered locally by the gateway's own validator.

Code that speaks the Measurement Protocol can check its payloads against the rules the relay enforces
before sending, with Google's answer format. Like Google's, it needs no secret, stores nothing and honours
the body's ``validation_behavior``: ``RELAXED`` (the default) reports only malformed requests,
``ENFORCE_RECOMMENDATIONS`` the collection limits too. ``tests/data/mp_conformance.json`` lists the
answers it gives exactly as Google does, and those where it differs on purpose.
"""

from __future__ import annotations

import json
import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .body import validate_text
from .payloads import consent_needed
from .validate import validation_response

__all__ = ["routes"]

_MAX_BODY = 1 << 20


async def debug_collect(request: Request) -> JSONResponse:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            break  # the validator reports the size; no need to read more
    messages = validate_text(body, now=time.time())
    return JSONResponse(validation_response(messages), headers=_consent_needed(body))


def _consent_needed(body: bytes) -> dict[str, str]:
    """What ``/mp/collect`` relays only under consent (``payloads.consent_needed``): a header, never a message."""
    try:
        return consent_needed(json.loads(body))
    except (ValueError, RecursionError):  # the validator has said what is wrong with the body
        return {}


def routes() -> list[Route]:
    return [Route("/debug/mp/collect", debug_collect, methods=["POST"])]
