"""``POST /v1/identify``: the shop's site trades the landing token of a click for the link to its GA client id.

The click's redirect put a landing token (``GA4GW_LANDING_PARAM``, valid 30 minutes) on the shop's
URL; the site's backend posts it with the visitor's GA client id (from its ``_ga`` cookie) and, when
the visitor is logged in, its user id::

    {"landing_token": "eyJ...", "client_id": "123456789.1700000000", "user_id": "crm-42"}

The gateway records an ``identify`` event (durably, like any event; 202 after the commit) whose edges
join the recipient's pseudonym (from the token) to the client id and the user id's pseudonym: from
then on the relay sends that person's email events with the site's real client id.

A token identifies once (``gateway.stores.redemptions``): posting it again with another client id or user
id is refused with 409, so a forwarded link cannot tie someone else's browsing to the recipient.
The same identification sent again is answered as the first.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import anyio
import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.errors import InvalidRequest
from gateway.state.identity_link import person_of
from warehouse import EventRow

from .auth import authenticate
from .bodies import read_json
from .ingest import CLIENT_ID

__all__ = ["routes"]

_KEYS = frozenset({"landing_token", "client_id", "user_id"})
_TOKEN = "landing_token"  # noqa: S105 (a field name, not a secret)


async def identify(request: Request) -> JSONResponse:
    """``POST /v1/identify`` (scope ``identity:write``)."""
    authenticate(request, "identity:write")
    state = request.app.state
    body = await read_json(request, 64 * 1024)
    errors = {key: "unknown field (known: client_id, landing_token, user_id)" for key in body if key not in _KEYS}
    token, client_id, user_id = body.get("landing_token"), body.get("client_id"), body.get("user_id")
    claims = None
    if not isinstance(token, str) or not token:
        errors[_TOKEN] = "the landing token the click put on the shop's URL"
    else:
        try:
            claims = state.landing_tokens.verify(token)
        except jwt.ExpiredSignatureError:
            errors[_TOKEN] = "expired: it is valid for GA4GW_LANDING_TOKEN_TTL seconds after the click"
        except jwt.PyJWTError:
            errors[_TOKEN] = "not a landing token this gateway issued"
    if not (isinstance(client_id, str) and CLIENT_ID.fullmatch(client_id)):
        errors["client_id"] = "the GA client id from the _ga cookie, like 123456789.1700000000"
    if user_id is not None and not (isinstance(user_id, str) and 0 < len(user_id) <= 256):
        errors["user_id"] = "a non-empty string of at most 256 characters"
    if errors or claims is None:
        raise InvalidRequest("the identification cannot be used", errors)
    if not claims.recipient_pseudonym:
        return JSONResponse({"accepted": False, "reason": "the click was anonymous: nobody to identify"})
    redemptions = state.redemptions
    who = (str(client_id), str(user_id or ""))
    redeemed = await anyio.to_thread.run_sync(redemptions.redeem, claims.event_id, claims.expires_at, time.time(), *who)
    if redeemed == "taken":
        raise InvalidRequest(
            "this landing token was already redeemed",
            {_TOKEN: "already redeemed for another visitor: a landing token identifies once"},
            status=409,
        )
    now = datetime.fromtimestamp(time.time(), UTC)
    row = EventRow(
        event_id=f"identify-{claims.event_id}",
        event_time=now,
        received_at=now,
        event_name="identify",
        source="identify",
        campaign_id=claims.campaign_id,
        link_id=claims.link_id,
        ga_client_id=str(client_id),
        user_id=state.pseudonymizer.pseudonym("us", user_id) if user_id else "",
        params={"recipient_pseudonym": claims.recipient_pseudonym, "click_event_id": claims.event_id},
    )
    row = replace(row, person_id=person_of(row, state.pseudonymizer))
    stored = False
    try:
        stored = await state.outbox.append(row.event_id, row.to_json())
    finally:
        if not stored and redeemed == "new":  # not recorded: the shop may retry with this token
            await anyio.to_thread.run_sync(redemptions.release, claims.event_id)
    if not stored:
        raise InvalidRequest("the gateway's outbox is full; retry later", status=503)
    return JSONResponse({"accepted": True, "event_id": row.event_id}, status_code=202)


def routes() -> list[Route]:
    return [Route("/v1/identify", identify, methods=["POST"])]
