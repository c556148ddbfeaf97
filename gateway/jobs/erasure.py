"""Erasure (GDPR art. 17): who the subject is, and deleting them from every store the gateway keeps.

What names the subject (``POST /v1/erasure`` and ``ga4gw erase`` take the same input):

    email                    every key's ``em_`` pseudonym of the normalised address
    recipient:<key>          the sending module's subscriber key: every key's ``rc_`` pseudonym, and the key itself
                             (``events.recipient`` keeps it as given)
    user:<id>, crm:<id>      every key's ``us_`` / ``crm_`` pseudonym
    email:<address>          like ``email``
    ga_client:<id>, device:<id>, or any pseudonym (``em_...``, ``rc_...``, ``us_...``, ``crm_...``): as given

The identity graph then widens that to every identifier of the person (``identity.linked``), never through a
shared identifier; naming a shared one directly is refused, since its events are several people's. Subscriber keys
are found back from their ``rc_`` pseudonyms among the warehouse's recipients (one HMAC per distinct recipient).

The order, with the pipeline and the relay held still (``Pipeline.hold``, ``Relay.hold``) so that no batch is
half-way between two stores: the outbox (``Outbox.forget``), the warehouse's list of the subject's events, the
delivery ledger (``ga4.forget``), the warehouse's rows (``consent.erase_subject``), the graph in memory, then the
audit row (``erasure_audit``: counts only). Running it again is harmless: it finds nothing and says so.

A step that fails still leaves its audit row, with ``status`` ``failed:<step>`` (``outbox``, ``ga4_ledger``,
``warehouse.<table>``...) and the rows deleted before it: those are gone, and the record must say so. The error then
goes on to the caller as ``ErasureFailed`` (the API answers 503 naming the erasure id: run the erasure again).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from consent import AuditRecord, ErasureStepFailed, Subject, erase_subject, new_erasure_id, record_audit, subject_events
from gateway.errors import ErasureFailed, InvalidRequest
from gateway.ga4.forget import forget as forget_ledger
from gateway.ga4.user_data import email_hash
from gateway.state.identity_link import IdentityLink
from gateway.stores.outbox import Outbox
from identity import PERSON_KINDS, Identifier, IdentityError, Kind, Linked, Pseudonymizer, normalize_email
from warehouse import EventRow, Warehouse

__all__ = [
    "ErasureRequest",
    "ErasureResult",
    "Stores",
    "erase",
    "is_raw",
    "parse_request",
    "pseudonymised",
    "unknown_detail",
]

log = logging.getLogger(__name__)

_FIELDS = frozenset({"email", "identifier", "identifiers", "reason"})
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")
_PSEUDONYM = re.compile(r"(em|rc|us|crm)_[A-Za-z0-9]+_[a-z2-7]{26}")
_PREFIX = {Kind.EMAIL: "em", Kind.RECIPIENT: "rc", Kind.USER: "us", Kind.CRM: "crm"}
_MAX_IDENTIFIERS = 50
_REASON_CHARS = 500
_HOLD_SECONDS = 60.0
_TSV_ESCAPE = re.compile(r"\\(.)")
_TSV = {"t": "\t", "n": "\n", "r": "\r", "0": "\0", "b": "\b", "f": "\f"}


@dataclass(frozen=True)
class ErasureRequest:
    """What to erase: an email and/or identifiers (``kind:value``), why (free text, never personal data)."""

    email: str = ""
    identifiers: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class ErasureResult:
    """What the API answers and the CLI prints: no personal data, counts only."""

    erasure_id: str
    status: str  # done, or partial: ``left`` says what could not be erased
    identifiers: int
    rows: dict[str, int]
    left: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {"erasure_id": self.erasure_id, "status": self.status, "identifiers": self.identifiers,
                "rows": self.rows, "left": self.left}  # fmt: skip


@dataclass(frozen=True)
class Stores:
    """Where the subject may be: the running gateway's own objects, or the CLI's when no gateway runs."""

    wh: Warehouse
    outbox: Outbox
    ledger_path: Path
    identity: IdentityLink
    pseudonymizer: Pseudonymizer
    holds: tuple[threading.Lock, ...] = ()  # the pipeline's and the relay's, in a running gateway
    send_wait: float = 0.0  # how long a GA4 request in flight may take to land


class ErasureBusy(Exception):
    """The pipeline or the relay did not let go in time (a warehouse write hanging): try again later."""


def parse_request(body: object) -> ErasureRequest:
    """Check an API body (``{"email": ...}``, ``{"identifier": "kind:value"}``, ``{"identifiers": [...]}``, with an
    optional ``reason``); raises ``InvalidRequest`` naming every wrong field."""
    if not isinstance(body, dict):
        raise InvalidRequest("the body is a JSON object", {"": "a JSON object"})
    errors = {k: f"unknown field (known: {', '.join(sorted(_FIELDS))})" for k in body if k not in _FIELDS}
    email, one, many, reason = body.get("email"), body.get("identifier"), body.get("identifiers"), body.get("reason")
    if email is not None and not (isinstance(email, str) and _EMAIL.fullmatch(email.strip())):
        errors["email"] = "an email address"
    texts: list[tuple[str, object]] = []
    if one is not None:
        texts.append(("identifier", one))
    if many is not None:
        if not isinstance(many, list) or not 0 < len(many) <= _MAX_IDENTIFIERS:
            errors["identifiers"] = f"a list of 1 to {_MAX_IDENTIFIERS} identifiers kind:value"
        else:
            texts += [(f"identifiers[{i}]", text) for i, text in enumerate(many)]
    for name, text in texts:
        try:
            _parse(text)
        except IdentityError:  # its message would repeat the value: the answer holds no personal data
            errors[name] = (f"kind:value with a kind of {', '.join(k.value for k in Kind)} and a value of 1-256 "
                            "printable characters without spaces")  # fmt: skip
    if not (email or texts) and not errors:
        errors["email"] = "name the person: email, identifier or identifiers"
    given = [str(email or "").strip().lower()] + [str(t).partition(":")[2].lower() for _, t in texts]
    if reason is not None:
        if not isinstance(reason, str) or len(reason) > _REASON_CHARS:
            errors["reason"] = f"text of at most {_REASON_CHARS} characters"
        elif any(g and g in reason.lower() for g in given):
            errors["reason"] = "must not repeat the email or identifiers: the audit keeps no personal data"
    if errors:
        raise InvalidRequest("the erasure request cannot be used", errors)
    identifiers = tuple(str(t) for _, t in texts)
    return ErasureRequest(str(email or "").strip(), identifiers, str(reason or ""))


def _parse(text: object) -> Identifier:
    if not isinstance(text, str):
        raise IdentityError("not a string")
    return Identifier.parse(text)


def _seeds(request: ErasureRequest, pseudonymizer: Pseudonymizer) -> tuple[dict[Identifier, str], set[str]]:
    """The identifiers to start from (each with the input field it came from) and the raw subscriber keys."""
    seeds: dict[Identifier, str] = {}
    keys: set[str] = set()
    if request.email:
        seeds.update(dict.fromkeys(_emails(pseudonymizer, request.email), "email"))
    for i, text in enumerate(request.identifiers):
        field = "identifier" if len(request.identifiers) == 1 else f"identifiers[{i}]"
        identifier = Identifier.parse(text)
        if identifier.kind is Kind.RECIPIENT and is_raw(identifier):
            keys.add(identifier.value)
        seeds.update(dict.fromkeys(pseudonymised(identifier, pseudonymizer), field))
    return seeds, keys


def is_raw(identifier: Identifier) -> bool:
    """A raw value (``email:jane@example.com``, ``recipient:sub-1``) of a kind the graph keeps as a pseudonym."""
    return identifier.kind in _PREFIX and not _PSEUDONYM.fullmatch(identifier.value)


def unknown_detail(identifier: Identifier) -> str:
    """What to say when no edge names ``identifier``, without repeating a raw value (it may be an email)."""
    if is_raw(identifier):
        return f"no edge names the {identifier.kind.value} given, nor its pseudonyms under any key"
    return f"no edge names {identifier.key}"


def pseudonymised(identifier: Identifier, pseudonymizer: Pseudonymizer) -> list[Identifier]:
    """The identifiers the graph may hold for ``identifier``: itself when it is a pseudonym or of a kind kept
    as given (client ids, devices); else its pseudonyms under every key, as erasure and ``explain`` look them up."""
    if not is_raw(identifier):
        return [identifier]
    if identifier.kind is Kind.EMAIL:
        return _emails(pseudonymizer, identifier.value)
    return [
        Identifier(identifier.kind, c) for c in pseudonymizer.candidates(_PREFIX[identifier.kind], identifier.value)
    ]


def _emails(pseudonymizer: Pseudonymizer, email: str) -> list[Identifier]:
    return [Identifier(Kind.EMAIL, c) for c in pseudonymizer.candidates("em", normalize_email(email))]


def _subject(found: Linked, seeds: Mapping[Identifier, str], keys: set[str]) -> Subject:
    shared = {seeds[s]: s for s in found.shared if s in seeds}
    if shared:
        raise InvalidRequest(
            "an identifier given is shared by several persons: erasing it would erase the others' events too",
            {
                field: f"{s.key} is shared: name the person by email, user, crm or recipient"
                for field, s in shared.items()
            },
        )
    people = {i.value for i in found.identifiers if i.kind in PERSON_KINDS} | keys | found.person_ids
    devices = {i.value for i in found.identifiers if i.kind not in PERSON_KINDS}
    return Subject(frozenset(i.key for i in found.identifiers), frozenset(people), frozenset(devices))


def _subscriber_keys(wh: Warehouse, pseudonymizer: Pseudonymizer, recipients: set[str]) -> set[str]:
    """The sending module's keys whose ``rc_`` pseudonym (under any key) is one of ``recipients``."""
    if not recipients:
        return set()
    data = wh.raw("SELECT DISTINCT recipient FROM events WHERE recipient != '' AND NOT startsWith(recipient, 'em_')")
    keys = set()
    for line in data.decode().splitlines():
        key = _TSV_ESCAPE.sub(lambda m: _TSV.get(m[1], m[1]), line)
        if any(c in recipients for c in pseudonymizer.candidates("rc", key)):
            keys.add(key)
    return keys


def _matcher(subject: Subject, pseudonymizer: Pseudonymizer, recipients: set[str]) -> Callable[[str], bool]:
    """The Python twin of the warehouse's condition on ``events``, for an outbox payload."""

    def match(payload: str) -> bool:
        try:
            row = EventRow.from_json(payload)
        except (ValueError, TypeError, KeyError, IndexError):  # unreadable: a value of theirs is in it, drop it
            return True
        people = subject.people
        return (
            row.recipient in people
            or row.user_id in people
            or row.person_id in people
            or row.params.get("email_pseudonym", "") in people
            or row.params.get("recipient_pseudonym", "") in people
            or row.ga_client_id in subject.devices
            or (bool(row.recipient) and any(c in recipients for c in pseudonymizer.candidates("rc", row.recipient)))
        )

    return match


def erase(
    stores: Stores,
    request: ErasureRequest,
    requested_by: str,
    forget_more: Callable[[Subject], dict[str, int]] | None = None,
) -> ErasureResult:
    """Erase the subject from every store and record the audit row. ``forget_more`` erases from what else the
    caller keeps in memory (consent snapshot, classifier) and returns its counts."""
    seeds, keys = _seeds(request, stores.pseudonymizer)
    subject = _subject(stores.identity.linked(seeds), seeds, keys)
    recipients = {v.partition(":")[2] for v in subject.identifiers if v.startswith("recipient:")}
    left: dict[str, int] = {}
    with contextlib.ExitStack() as held:
        for hold in stores.holds:
            if not hold.acquire(timeout=_HOLD_SECONDS):
                raise ErasureBusy("the pipeline or the GA4 relay is busy (a warehouse write hanging?); try again")
            held.callback(hold.release)
        erasure_id = new_erasure_id()
        progress = _Progress()
        try:
            subject = _erase_stores(stores, subject, keys, recipients, progress, left, forget_more,
                                    _hashed_emails(request))  # fmt: skip
        except BaseException as exc:
            _record_failure(stores, request, requested_by, erasure_id, len(subject.identifiers), progress, exc)
            if isinstance(exc, Exception):
                raise ErasureFailed(erasure_id, progress.step) from exc
            raise
    result = ErasureResult(erasure_id, "partial" if left else "done", len(subject.identifiers), progress.rows, left)
    counts = {**progress.rows, **{f"left.{k}": v for k, v in left.items()}}
    try:
        record_audit(
            stores.wh,
            AuditRecord(result.erasure_id, requested_by, request.reason, result.identifiers, counts, result.status),
        )
    except Exception as exc:  # everything is erased but the record is not written: the log must keep it
        log.error("erasure %s by %s: %s, %d identifiers, rows %s; its audit row could not be written (%s)",
                  erasure_id, requested_by, result.status, result.identifiers, counts, type(exc).__name__)  # fmt: skip
        raise
    return result


@dataclass
class _Progress:
    """Where an erasure is (``step``) and what it deleted so far (``rows``): what a failure's audit row says."""

    step: str = ""
    rows: dict[str, int] = field(default_factory=dict)


def _erase_stores(
    stores: Stores,
    subject: Subject,
    keys: set[str],
    recipients: set[str],
    progress: _Progress,
    left: dict[str, int],
    forget_more: Callable[[Subject], dict[str, int]] | None,
    hashed: frozenset[str] = frozenset(),
) -> Subject:
    """Every store in turn, the graph in memory last; returns the subject as finally found.

    ``hashed``: the named emails as MP ``user_data`` carries them (SHA-256), which only the outbox's private
    parts and the delivery ledger hold: an MP event whose ids the graph never joined to the email goes too.
    """
    rows = progress.rows
    progress.step = "warehouse.recipients"
    found_keys = _subscriber_keys(stores.wh, stores.pseudonymizer, recipients)
    subject = replace(subject, people=subject.people | found_keys)
    needles = [json.dumps(v, ensure_ascii=False) for v in sorted(subject.people | subject.devices)]
    progress.step = "outbox"
    private = [json.dumps(h) for h in sorted(hashed)]
    outboxed = set(stores.outbox.forget(_matcher(subject, stores.pseudonymizer, recipients), needles, private))
    rows["outbox"] = len(outboxed)
    progress.step = "warehouse.events"
    stored, transactions = subject_events(stores.wh, subject)
    # Raw subscriber keys may be any word: the ledger, where they never go, is searched for the rest only.
    specific = (subject.people - found_keys - keys) | subject.devices
    progress.step = "ga4_ledger"
    ledger = forget_ledger(stores.ledger_path, values=specific | hashed, event_ids=stored | outboxed,
                           wait=stores.send_wait, position=stores.outbox.position("ga4"))  # fmt: skip
    rows.update(ledger.rows)
    if ledger.in_flight:
        left["ga4_ledger.in_flight"] = ledger.in_flight
    elsewhere = (outboxed | ledger.event_ids) - stored
    subject = replace(subject, event_ids=frozenset(elsewhere))
    progress.step = "warehouse"
    try:
        rows.update(erase_subject(stores.wh, subject, stored | elsewhere, transactions))
    except ErasureStepFailed as exc:
        progress.step = f"warehouse.{exc.step}"
        rows.update(exc.rows)
        raise exc.__cause__ or exc from None
    progress.step = "identity_graph"
    rows["identity_graph.edges"] = stores.identity.forget(Identifier.parse(k) for k in subject.identifiers)
    stores.pseudonymizer.clear_cache()
    if forget_more is not None:
        progress.step = "memory"
        rows.update(forget_more(subject))
    return subject


def _hashed_emails(request: ErasureRequest) -> frozenset[str]:
    emails = [request.email] + [i.partition(":")[2] for i in request.identifiers if i.startswith("email:")]
    return frozenset(email_hash(e) for e in emails if e)


def _record_failure(
    stores: Stores,
    request: ErasureRequest,
    requested_by: str,
    erasure_id: str,
    identifiers: int,
    progress: _Progress,
    exc: BaseException,
) -> None:
    """The audit row of an erasure that stopped half-way: ``failed:<step>``, and the rows deleted before it.

    Whatever was deleted stays deleted, so the controller's record must say so even though the request failed.
    The error's class is logged, never its text (a driver's message may quote values).
    """
    status = f"failed:{progress.step}"
    log.error("erasure %s by %s stopped at %s (%s); rows deleted before: %s", erasure_id, requested_by, progress.step,
              type(exc).__name__, progress.rows)  # fmt: skip
    try:
        record_audit(
            stores.wh, AuditRecord(erasure_id, requested_by, request.reason, identifiers, progress.rows, status)
        )
    except Exception as audit_exc:  # the warehouse is down: the log line above is all that is left
        log.error("erasure %s: its audit row could not be written either (%s)", erasure_id, type(audit_exc).__name__)
