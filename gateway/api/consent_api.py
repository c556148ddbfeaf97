"""``POST /v1/consent`` (scope ``consent:write``) and ``GET /v1/consent`` (scope ``consent:read``).

The shop's consent banner, its account settings and the sending module's unsubscribe page record
decisions here::

    {"subject": {"email": "ann@example.com", "subscriber": "sub-42", "user_id": "crm-42",
                 "client_id": "123456789.1700000000"},          at least one; each is a subject
     "purposes": {"email_tracking": "granted", "analytics_storage": "denied", ...},
     "tcf": "CPz...",              or a TCF v2.2 TC string: decoded into the Consent Mode signals
     "unsubscribe": true,          or an unsubscribe: email_tracking denied from then on
     "time": "2026-11-23T10:00:00Z",          optional: when the person decided (default: now)
     "policy_version": "2026-10"}             optional (default: GA4GW_CONSENT_POLICY_VERSION)

or ``{"consents": [decision, ...]}`` (at most 1,000). Emails and user ids are pseudonymised on
arrival; a decision is stored for each identifier named (``em_``, ``rc_``, ``us_`` pseudonyms, the GA
client id as given). Every wrong field is named in a 422 and nothing is stored. 202 comes after the
outbox commit, and the in-memory snapshot has the decision by then: the next hit and the next GA4
send obey it. ``GET /v1/consent?email=...`` (or ``subscriber``, ``user_id``, ``client_id``, and
``region``) answers every purpose's current decision and why.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from consent import Purpose, TcfError, decode_tc_string
from consent.tcf import consent_mode_signals
from gateway.errors import InvalidRequest
from identity import Pseudonymizer
from warehouse import EventRow

from .auth import authenticate
from .bodies import read_json
from .ingest import CLIENT_ID, EMAIL, moment, store

__all__ = ["routes"]

_KEYS = frozenset({"subject", "purposes", "tcf", "unsubscribe", "time", "policy_version"})
_SUBJECT_KEYS = ("email", "subscriber", "user_id", "client_id")
_PURPOSES = tuple(p.value for p in Purpose)
_MAX = 1000


def _subject(value: object, path: str, errors: dict[str, str]) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        errors[path] = f"an object naming the person: {', '.join(_SUBJECT_KEYS)} (at least one)"
        return {}
    out: dict[str, str] = {}
    for key, item in value.items():
        where = f"{path}.{key}"
        if key not in _SUBJECT_KEYS:
            errors[where] = f"unknown field (known: {', '.join(_SUBJECT_KEYS)})"
        elif not isinstance(item, str) or not item.strip() or len(item) > 256:
            errors[where] = "a non-empty string of at most 256 characters"
        elif key == "email" and not EMAIL.fullmatch(item.strip()):
            errors[where] = "an email address"
        elif key == "client_id" and not CLIENT_ID.fullmatch(item):
            errors[where] = "the GA client id from the _ga cookie, like 123456789.1700000000"
        else:
            out[key] = item
    return out


def _decisions(item: dict[str, Any], path: str, errors: dict[str, str]) -> tuple[dict[str, str], str, str]:
    """(purpose -> granted/denied, the TC string, the source) of one decision."""
    decided: dict[str, str] = {}
    purposes, tcf, unsubscribe = item.get("purposes"), item.get("tcf"), item.get("unsubscribe")
    if purposes is not None:
        if not isinstance(purposes, dict) or not purposes:
            errors[f"{path}.purposes"] = f"an object of purposes ({', '.join(_PURPOSES)}) to granted or denied"
        else:
            for name, value in purposes.items():
                if name not in _PURPOSES:
                    errors[f"{path}.purposes.{name}"] = f"unknown purpose (purposes: {', '.join(_PURPOSES)})"
                elif not isinstance(value, str) or value.lower() not in ("granted", "denied"):
                    errors[f"{path}.purposes.{name}"] = "granted or denied"
                else:
                    decided[name] = value.lower()
    tc_string, source = "", "api"
    if tcf is not None:
        try:
            if not isinstance(tcf, str):
                raise TcfError("encoding", "a TC string")
            signals = consent_mode_signals(decode_tc_string(tcf))
            tc_string, source = tcf.strip(), "tcf"
            for purpose, granted in signals.items():
                decided.setdefault(purpose.value, "granted" if granted else "denied")
        except TcfError as exc:
            errors[f"{path}.tcf"] = str(exc)
    if unsubscribe is not None:
        if unsubscribe is not True:
            errors[f"{path}.unsubscribe"] = "true, or leave it out"
        else:
            source = "unsubscribe"
            decided[Purpose.EMAIL_TRACKING.value] = "denied"
    if not decided and not any(k.startswith(f"{path}.") for k in errors):
        errors[path] = "say what was decided: purposes, tcf or unsubscribe"
    return decided, tc_string, source


def _row(
    subject: dict[str, str], decided: dict[str, str], extra: dict[str, str], at: float, now: float, pz: Pseudonymizer
) -> EventRow:
    params = dict(extra)
    if "email" in subject:
        params["email_pseudonym"] = pz.email(subject["email"])
    if "subscriber" in subject:
        params["recipient_pseudonym"] = pz.pseudonym("rc", subject["subscriber"])
    return EventRow(
        event_id=f"consent-{secrets.token_hex(12)}",
        event_time=datetime.fromtimestamp(at, UTC),
        received_at=datetime.fromtimestamp(now, UTC),
        event_name="consent",
        source="consent",
        ga_client_id=subject.get("client_id", ""),
        user_id=pz.pseudonym("us", subject["user_id"]) if "user_id" in subject else "",
        consent=decided,
        params=params,
    )


async def post_consent(request: Request) -> JSONResponse:
    authenticate(request, "consent:write")
    state = request.app.state
    body = await read_json(request, 2 * 1024 * 1024)
    items = body.get("consents") if "consents" in body else [body]
    if not isinstance(items, list) or not items or len(items) > _MAX:
        raise InvalidRequest('send one decision, or {"consents": [...]}', {"consents": f"1 to {_MAX} decisions"})
    now, errors, rows = time.time(), {}, []
    default_version = state.settings.consent_policy_version
    for i, item in enumerate(items):
        path = f"consents[{i}]" if "consents" in body else "body"
        if not isinstance(item, dict):
            errors[path] = "an object"
            continue
        errors.update({f"{path}.{k}": "unknown field" for k in item if k not in _KEYS})
        subject = _subject(item.get("subject"), f"{path}.subject", errors)
        decided, tc_string, source = _decisions(item, path, errors)
        at = moment(item.get("time"), f"{path}.time", errors, now)
        version = item.get("policy_version", default_version)
        if not isinstance(version, str) or len(version) > 64:
            errors[f"{path}.policy_version"] = "a string of at most 64 characters"
            continue
        extra = {"consent_source": source, "policy_version": version}
        if tc_string:
            extra["tcf_string"] = tc_string
        if subject and decided:
            rows.append(_row(subject, decided, extra, at, now, state.pseudonymizer))
    if errors:
        raise InvalidRequest("the consent cannot be recorded", errors)
    await store(rows, state.outbox, state.transactions)  # all or nothing, 503 when the outbox cannot hold them
    recorded = state.consent.add_rows(rows)
    return JSONResponse({"accepted": len(rows), "decisions": len(recorded),
                         "event_ids": [r.event_id for r in rows]}, status_code=202)  # fmt: skip


async def get_consent(request: Request) -> JSONResponse:
    authenticate(request, "consent:read")
    state = request.app.state
    query = request.query_params
    errors: dict[str, str] = {}
    subject = _subject({k: query[k] for k in _SUBJECT_KEYS if k in query} or None, "query", errors)
    region = query.get("region", "")
    if region and not re.fullmatch(r"[A-Za-z]{2}", region):
        errors["query.region"] = "a two-letter country code"
    if errors:
        raise InvalidRequest("name the person: email, subscriber, user_id or client_id", errors)
    row = _row(subject, {}, {}, time.time(), time.time(), state.pseudonymizer)
    subjects = state.identity.subjects(row)
    region = state.consent.region(region)
    return JSONResponse({"region": region or None, "loaded": state.consent.loaded,
                         "purposes": state.consent.state(subjects, region)})  # fmt: skip


def routes() -> list[Route]:
    return [Route("/v1/consent", post_consent, methods=["POST"]), Route("/v1/consent", get_consent, methods=["GET"])]
