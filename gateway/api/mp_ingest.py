"""``POST /mp/collect``: a drop-in for Google's endpoint, so code that already speaks MP can point at the gateway.

The sender changes only the origin: ``https://t.shop.example/mp/collect?measurement_id=G-...&api_secret=...``,
where ``api_secret`` is one the gateway issued (``ga4gw ga4 secret issue --name shop-backend``: an HMAC
under the API keyring, so nothing is stored; ``ga4gw ga4 secret revoke`` revokes one, see ``revocation``).
A refused secret counts against the client's failed-authentication rate (``ratelimit``). The gateway then
enriches each event (pseudonyms, consent), stores it in the warehouse and relays it to GA4 with its
own measurement id and secret.

Unlike Google's endpoint, which answers 2xx to anything, a body the validator refuses gets a 400 with
``{"validationMessages": [...]}`` in Google's vocabulary: an event silently dropped is worse than an
error its sender can read. An event older than GA4's 72 hours is no error: it is stored with its own time and
the relay dead-letters it "expired" (or clamps it, ``GA4GW_GA4_EXPIRED``).
Accepted: 204, after the outbox committed. The ``consent`` field is a
decision: it goes to the consent ledger for the client id and user id (``user_location.country_id``
gives the region). The other request-level fields are kept and relayed under consent (``mp_fields``):
``user_data`` arriving as plain text is normalised and hashed as Google specifies (``ga4.user_data``) and
kept only in the outbox and the delivery ledger until the send; what is deliberately not kept or not
relayed is named in the ``X-GA4GW-Dropped`` and ``X-GA4GW-Withheld`` headers of the 204.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections import Counter
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.config.keys import Keyring
from gateway.ga4.body import validate_text
from gateway.ga4.messages import Code, ValidationMessage
from gateway.ga4.user_data import prepare
from gateway.ga4.validate import validate, validation_response
from identity.personal import PersonalData

from .bodies import read_body
from .ingest import EARLIEST, INGEST_LIMITS, count_personal_data, server_row, store
from .mp_fields import keep
from .ratelimit import client_address

__all__ = ["issue_secret", "routes", "secret_key_id", "verify_secret"]

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_MAX_BODY = 256 * 1024  # Google's limit is 130 kB; read a little more to say so in its words


def _signature(key: str, name: str) -> str:
    mac = hmac.new(key.encode(), f"ga4gw-mp-secret\x1f{name}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode()


def issue_secret(keyring: Keyring, name: str) -> str:
    """An MP api_secret for the sender ``name`` (lower-case letters, digits, '-'), under the newest key."""
    if not _NAME.fullmatch(name):
        raise ValueError("a name is 1 to 40 lower-case letters, digits or '-', starting with a letter or digit")
    kid, key = keyring.current
    return f"{name}.{kid}.{_signature(key, name)}"


def verify_secret(keyring: Keyring, secret: str) -> str | None:
    """The sender's name when ``secret`` is one the gateway issued (under any key of the ring), else None."""
    name, _, rest = secret.partition(".")
    kid, _, signature = rest.partition(".")
    key = keyring.get(kid)
    if key is None or not _NAME.fullmatch(name):
        return None
    return name if hmac.compare_digest(signature, _signature(key, name)) else None


def secret_key_id(secret: str) -> str:
    """The key id inside an api_secret (``<name>.<kid>.<signature>``)."""
    return secret.partition(".")[2].partition(".")[0]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _too_early(payload: dict[str, Any]) -> list[ValidationMessage]:
    """Times before ``EARLIEST`` (which the warehouse cannot hold), named at the sender's own field. Older than
    GA4's 72 hours is no error here: the event is stored with its time and the relay decides (``ingest``)."""
    fields = [("timestamp_micros", payload.get("timestamp_micros"))]
    fields += [(f"events[{i}].timestamp_micros", e.get("timestamp_micros"))
               for i, e in enumerate(payload.get("events") or ())]  # fmt: skip
    return [ValidationMessage(path, "is before 2000: the warehouse keeps events from 2000 on", Code.VALUE_OUT_OF_BOUNDS)
            for path, micros in fields if micros is not None and int(micros) < EARLIEST * 1_000_000]  # fmt: skip


def _events(payload: dict[str, Any], now: float) -> list[tuple[dict[str, Any], float]]:
    """Each MP event as an ingest event with its time (the event's, the request's, or now)."""
    default = payload.get("timestamp_micros")
    consent = {k: str(v).lower() for k, v in (payload.get("consent") or {}).items()}
    country = (payload.get("user_location") or {}).get("country_id")
    region = country.upper() if isinstance(country, str) and len(country) == 2 and country.isalpha() else None
    out = []
    for event in payload["events"]:
        micros = event.get("timestamp_micros", default)
        at = int(micros) / 1_000_000 if micros is not None else now
        params = dict(event.get("params") or {})
        out.append(
            (
                {
                    "name": event["name"],
                    "client_id": payload.get("client_id"),
                    "user_id": payload.get("user_id"),
                    "session_id": params.get("session_id"),
                    "consent": consent,
                    "region": region,
                    "params": params,
                },
                at,
            )
        )
    return out


async def collect(request: Request) -> Response:
    state = request.app.state
    secret = request.query_params.get("api_secret", "")
    measurement_id = request.query_params.get("measurement_id", "")
    if not measurement_id:
        return _error(400, "measurement_id is required in the query string")
    client = client_address(request.scope)
    state.rate_limits.check_auth(client)  # RateLimited: 429
    sender = verify_secret(state.mp_keyring, secret) if secret else None
    if sender is None or state.revocations.secret_revoked(sender, secret_key_id(secret)):
        reason = "revoked" if sender else "not issued by this gateway" if secret else "missing"
        state.rate_limits.auth_failed(client, request.url.path, f"api_secret {reason}")
        return _error(403, "api_secret is not one this gateway issued (ga4gw ga4 secret issue --name NAME)"
                      if sender is None else "api_secret has been revoked")  # fmt: skip
    own = state.settings.ga4_measurement_id
    if own and measurement_id != own:
        return _error(403, f"measurement_id {measurement_id} is not the one this gateway relays to")
    body = await read_body(request, _MAX_BODY)
    now = time.time()
    messages = _messages(body, now)
    payload = {} if messages else json.loads(body)
    messages = messages or _too_early(payload)
    if messages:
        return JSONResponse(validation_response(messages), status_code=400)
    found: Counter[str] = Counter()
    rows = [server_row(event, at, state.pseudonymizer, "mp", now, found) for event, at in _events(payload, now)]
    settings = state.settings
    kept = keep(payload, state.relay_builder.granted(rows[0]), PersonalData(state.pseudonymizer), found,
                v4_prefix=settings.ip_v4_prefix, v6_prefix=settings.ip_v6_prefix)  # fmt: skip
    rows = [replace(row, user_agent=kept.user_agent, ip_truncated=kept.ip_truncated,
                    params={**row.params, **kept.params, "mp_sender": sender}) for row in rows]  # fmt: skip
    await store(rows, state.outbox, state.transactions, kept.private_json())
    count_personal_data(state.metrics, found, "mp")
    state.consent.add_rows(rows)  # the MP consent field is a decision: the ledger records it
    return Response(status_code=204, headers=kept.headers())


def _messages(body: bytes, now: float) -> list[ValidationMessage]:
    """The validator's messages; ``user_data`` sent as plain text is judged as the hashed form the relay sends."""
    messages = validate_text(body, now=now, limits=INGEST_LIMITS)
    if not any(m.field_path.startswith("user_data") for m in messages):
        return messages
    try:
        payload = json.loads(body)
    except ValueError:
        return messages
    if not (isinstance(payload, dict) and isinstance(payload.get("user_data"), dict)):
        return messages
    hashed, left = prepare(payload["user_data"])
    rest = [m for m in messages if not m.field_path.startswith("user_data")]
    again = validate({**payload, "user_data": hashed}, now=now, limits=INGEST_LIMITS)
    why = "neither a SHA-256 hex digest nor text to normalise and hash"
    unusable = [ValidationMessage(path, why, Code.VALUE_INVALID) for path in left]
    return rest + unusable + [m for m in again if m.field_path.startswith("user_data")]


def routes() -> list[Route]:
    return [Route("/mp/collect", collect, methods=["POST"])]
