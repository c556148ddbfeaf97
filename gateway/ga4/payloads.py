"""From a warehouse event to Measurement Protocol events: names, params, client and user ids, consent.

Event names (custom names, prefixed ``email_`` like the warehouse's, so they can never be confused
with what GA4 collects by itself: ``click`` is its outbound-click event, ``session_start`` is reserved):

    an open   -> ``email_open``
    a click   -> ``email_click`` and ``campaign_details`` (the event GA4 reads campaign data from)
    the shop  -> its own name (``purchase``, ``add_to_cart``...), params as the shop sent them

Every event carries ``session_id`` and ``engagement_time_msec`` (without them GA4 keeps events out of
its processed reports) and ``timestamp_micros`` from the event's time. Email events carry the
campaign params GA4 knows: ``campaign_id``, ``campaign``, ``source``, ``medium=email``, ``content``.

``session_id``: the shop's own when the event has one; otherwise the start of the event's 30-minute
window (epoch seconds), so an open and a click minutes apart share a session as they would on the site.

``client_id``: the shop's real GA client id when the event has one (a click's ``_ga`` cookie, a
server event or MP request that names it, as given when it is an opaque token of letters, digits and
``._:-``, as Google's collection accepts), else the person's latest real one from the identity graph (so an open
lands in the person's web history), else a well-formed stand-in derived from the user pseudonym, the
same for every event of that person. ``user_id``: the pseudonym of the person's primary id from the
identity graph (CRM, user, email), else the event's own; always a keyed pseudonym (``em_...``,
``rc_...``, ``us_...``), never an email or a raw id. A shared identifier (a device several people
use) resolves to nobody.

Consent (``consent.egress``), asked of every identifier of the person: an open or click whose
``email_tracking`` was withdrawn is skipped; without ``analytics_storage`` the request carries nothing
that identifies the person (no ``user_id``, a one-off ``client_id``) or, by setting, is skipped; the
MP ``consent`` field mirrors ``ad_user_data`` and ``ad_personalization``. What was granted travels with
the event into the delivery ledger (``Outgoing.check``) and is asked again before every send.

MP ingest's request-level fields (``/mp/collect``): ``user_properties``, ``device``, ``user_agent`` and
``non_personalized_ads`` always go with the event (the warehouse keeps them: ``MP_PARAMS``, the ``user_agent``
column); ``user_location`` and ``ip_override`` only under ``analytics_storage``; ``user_data`` only under
``ad_user_data``. ``ip_override`` (the full address) and ``user_data`` come from the outbox row's private part
(``build(row, private)``), never from the warehouse row, which holds the truncated address only.

The shop's ``session_start`` (a visit, for attribution: direct when it has no source) is never sent: the MP
refuses the reserved name, and GA4 starts its own sessions from the ``session_id`` every relayed event carries;
a renamed copy would be a second count of sessions that no GA4 report reads (skip reason ``attribution_only``).

Events GA4 cannot take are skipped with a reason, never sent: anonymous hits (no person: a made-up
client id per hit would invent users), and hits whose verdict is a machine's (Apple's prefetch, link
scanners) unless ``GA4GW_GA4_RELAY_VERDICTS`` lists them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consent import Purpose
from consent.egress import has, withdrawn
from gateway.state.consent_link import ConsentLink
from gateway.state.identity_link import identifiers_of
from identity import Pseudonymizer, Resolution
from warehouse import EventRow

__all__ = [
    "CONSENT_NEEDED_HEADER",
    "CONSENT_NEEDS",
    "ENGAGEMENT_MSEC",
    "MP_PARAMS",
    "PRIVATE_FIELDS",
    "SESSION_SECONDS",
    "Outgoing",
    "PayloadBuilder",
    "Skip",
    "consent_needed",
    "one_off_client_id",
    "standin_client_id",
]

ENGAGEMENT_MSEC = 100  # GA4 wants a positive engagement time; an email hit has no measured one
SESSION_SECONDS = 1800
GA4_PARAMS = "ga4_params"  # the warehouse param that keeps a server event's typed MP params as JSON
# A client id relayed as given: Google's collection takes any string (UUIDs, ga4mp's zero-padded
# "0123456789.1700000000", app instance ids); an "@", a space or markup never goes, so nothing
# email-shaped or free-form rides along as an identifier (issue 14).
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_VALUE_CHARS = 100
# An MP request-level field -> the warehouse param that keeps it as JSON (``user_agent`` has its own column).
MP_PARAMS = {
    "user_properties": "mp_user_properties",
    "device": "mp_device",
    "user_location": "mp_user_location",
    "non_personalized_ads": "mp_non_personalized_ads",
}
PRIVATE_FIELDS = ("user_data", "ip_override")  # sent, never stored in the warehouse
# What goes to GA4 only under a purpose (the rest of MP's request-level fields always goes).
CONSENT_NEEDS = {"user_location": Purpose.ANALYTICS_STORAGE, "ip_override": Purpose.ANALYTICS_STORAGE,
          "user_data": Purpose.AD_USER_DATA}  # fmt: skip
CONSENT_NEEDED_HEADER = "X-GA4GW-Consent-Needed"


def consent_needed(payload: object) -> dict[str, str]:
    """The header ``/debug/mp/collect`` answers: which fields of ``payload`` go to GA4 only under which purpose.

    It names the rule, never a person's decisions: the validation endpoint needs no secret, so it must not
    tell anybody what a client id consented to (``/mp/collect`` itself says what it dropped).
    """
    if not isinstance(payload, dict):
        return {}
    found = [
        f"{name};needs={purpose.value}" for name, purpose in CONSENT_NEEDS.items() if payload.get(name) is not None
    ]
    return {CONSENT_NEEDED_HEADER: ", ".join(found)} if found else {}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One warehouse event as GA4 gets it: the request-level fields it needs and its MP events."""

    event_id: str
    event_time: float  # epoch seconds
    common: dict[str, Any]  # client_id, user_id, consent: events share a request only when these are equal
    events: tuple[dict[str, Any], ...]
    transaction_id: str = ""
    check: tuple[str, int, tuple[str, ...]] | None = None  # (region, purposes granted, subjects): see relay

    @property
    def index(self) -> tuple[Any, ...]:
        """What the delivery ledger keeps of this event: MP events, time, and the consent to check again."""
        if self.check is None:
            return (len(self.events), self.event_time)
        region, mask, subjects = self.check
        return (len(self.events), self.event_time, [region, mask, list(subjects)])

    @property
    def key(self) -> tuple[Any, ...]:
        """The request-level fields, comparable: the grouping key of the batcher (cheaper than canonical JSON)."""
        return tuple((name, _frozen(value)) for name, value in sorted(self.common.items()))

    def body(self) -> dict[str, Any]:
        """This event alone as a request body (what the validator checks, what a dead letter keeps)."""
        return {**self.common, "events": list(self.events)}


@dataclass(frozen=True, slots=True)
class Skip:
    """An event GA4 does not get, and why (``anonymous``, ``machine``, ``unsupported``)."""

    event_id: str
    reason: str


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def standin_client_id(pseudonym: str) -> str:
    """A well-formed client id (``<int>.<10 digits>``) derived from a pseudonym: stable, never random."""
    digest = hashlib.sha256(f"ga4gw-client:{pseudonym}".encode()).digest()
    first = int.from_bytes(digest[:4], "big") % 2_147_483_647 + 1
    second = 1_000_000_000 + int.from_bytes(digest[4:8], "big") % 900_000_000
    return f"{first}.{second}"


def one_off_client_id(event_time: float) -> str:
    """A well-formed client id that joins nothing: for an event that may not identify anybody."""
    return f"{secrets.randbelow(2_147_483_646) + 1}.{max(1, int(event_time))}"


def _text(value: str) -> str:
    return value[:_VALUE_CHARS]


class PayloadBuilder:
    """Turns ``EventRow``s into ``Outgoing`` (or ``Skip``); one per relay, settings fixed at start."""

    def __init__(
        self,
        pseudonymizer: Pseudonymizer,
        *,
        consent: ConsentLink,
        utm_source: str = "newsletter",
        verdicts: tuple[str, ...] = ("human", "image_proxy"),
        resolve: Callable[[EventRow], Resolution | None] | None = None,
        subjects: Callable[[EventRow], list[str]] | None = None,
        analytics_denied: str = "anonymous",
    ) -> None:
        self._pseudonymizer = pseudonymizer
        self.consent = consent
        self._resolve = resolve
        self._subjects = subjects or (lambda row: [i.value for i in identifiers_of(row, pseudonymizer)])
        self._utm_source = utm_source
        self._verdicts = frozenset(verdicts)
        self._drop_unidentified = analytics_denied == "drop"

    def build(self, row: EventRow, private: dict[str, Any] | None = None) -> Outgoing | Skip:
        """``private``: the outbox row's private part (MP ``user_data``, the full ``ip_override``)."""
        if row.source in ("open", "click"):
            return self._email(row)
        if row.source in ("server", "mp"):
            if row.event_name == "session_start":  # attribution's direct touch; GA4 makes its own (see above)
                return Skip(row.event_id, "attribution_only")
            return self._server(row, private or {})
        if row.source == "identify":  # it only joins identifiers; GA4 learns them with the person's events
            return Skip(row.event_id, "identity_only")
        if row.source == "consent":  # a decision, applied to the person's events; GA4 has no use for it
            return Skip(row.event_id, "consent_only")
        if row.source == "import":  # history for attribution: a year of it would all dead-letter as expired
            return Skip(row.event_id, "imported")
        return Skip(row.event_id, "unsupported")

    def granted(self, row: EventRow) -> int:
        """The purposes granted for ``row``'s person now (a ``consent.egress`` mask): what MP ingest may keep."""
        return self._consent(row)[1]

    def withdrawn(self, check: list[Any]) -> bool:
        """Asked before every send with what ``Outgoing.check`` recorded: was a purpose lost since?"""
        region, before, subjects = check
        if not subjects:
            return False
        now = self.consent.mask(subjects, self.consent.region(region), email=has(before, Purpose.EMAIL_TRACKING))
        return withdrawn(before, now)

    def _consent(self, row: EventRow) -> tuple[str, int, tuple[str, ...]]:
        """(region, purposes granted now, subjects): asked of every identifier of the person."""
        if row.source in ("server", "mp"):  # its own decisions, in case the route has not added them yet
            self.consent.add(self.consent.events_of((row,)))
        subjects = tuple(self._subjects(row))
        region = self.consent.region(row.consent.get("region", ""))
        return region, self.consent.mask(subjects, region, email=row.source in ("open", "click")), subjects

    def _common(self, row: EventRow, user_id: str) -> tuple[dict[str, Any], tuple[str, int, tuple[str, ...]]] | str:
        """The request-level fields and the consent check, or the reason the event may not go."""
        check = self._consent(row)
        mask = check[1]
        if row.source in ("open", "click") and not has(mask, Purpose.EMAIL_TRACKING):
            return "consent_email_tracking"
        signals = {
            "ad_user_data": "GRANTED" if has(mask, Purpose.AD_USER_DATA) else "DENIED",
            "ad_personalization": "GRANTED" if has(mask, Purpose.AD_PERSONALIZATION) else "DENIED",
        }
        if not has(mask, Purpose.ANALYTICS_STORAGE):
            if self._drop_unidentified:
                return "consent_analytics_storage"
            return {"client_id": one_off_client_id(row.event_time.timestamp()), "consent": signals}, check
        client_id = row.ga_client_id if _CLIENT_ID.fullmatch(row.ga_client_id) else ""
        person = self._resolve(row) if self._resolve is not None else None
        if person is not None and not person.shared:  # the identity graph knows more than this one event
            user_id = person.user_id or user_id
            if not client_id and person.client_id and _CLIENT_ID.fullmatch(person.client_id):
                client_id = person.client_id
        client_id = client_id or standin_client_id(user_id)
        common: dict[str, Any] = {"client_id": client_id}
        if user_id:
            common["user_id"] = user_id
        common["consent"] = signals
        return common, check

    @staticmethod
    def _session(row: EventRow) -> dict[str, Any]:
        seconds = row.event_time.timestamp()
        session = row.session_id or str(int(seconds // SESSION_SECONDS * SESSION_SECONDS))
        return {"session_id": session, "engagement_time_msec": ENGAGEMENT_MSEC}

    @staticmethod
    def _micros(row: EventRow) -> int:
        return math.floor(row.event_time.timestamp() * 1_000_000)

    def _email(self, row: EventRow) -> Outgoing | Skip:
        if not row.recipient:
            return Skip(row.event_id, "anonymous")
        if row.verdict not in self._verdicts:
            return Skip(row.event_id, "machine")
        user_id = row.params.get("email_pseudonym") or self._pseudonymizer.pseudonym("rc", row.recipient)
        content = f"{row.variant}-{row.link_id}" if row.variant else row.link_id
        campaign = {
            "campaign_id": _text(row.campaign_id),
            "campaign": _text(row.campaign_id),
            "source": _text(self._utm_source),
            "medium": "email",
        }
        if content:
            campaign["content"] = _text(content)
        micros = self._micros(row)
        session = self._session(row)
        common = self._common(row, user_id)
        if isinstance(common, str):
            return Skip(row.event_id, common)
        name = "email_open" if row.source == "open" else "email_click"
        events: list[dict[str, Any]] = [{"name": name, "params": {**campaign, **session}, "timestamp_micros": micros}]
        if row.source == "click":
            events.append({"name": "campaign_details", "params": {**campaign, **session}, "timestamp_micros": micros})
        return Outgoing(row.event_id, row.event_time.timestamp(), common[0], tuple(events), check=common[1])

    def _server(self, row: EventRow, private: dict[str, Any]) -> Outgoing | Skip:
        user_id = row.user_id or row.params.get("email_pseudonym", "")
        if not (user_id or _CLIENT_ID.fullmatch(row.ga_client_id)):
            return Skip(row.event_id, "anonymous")
        common = self._common(row, user_id)
        if isinstance(common, str):
            return Skip(row.event_id, common)
        if row.source == "mp":
            common = ({**common[0], **self._mp_fields(row, private, common[1][1])}, common[1])
        params: dict[str, Any] = json.loads(row.params.get(GA4_PARAMS) or "{}")
        params.update({k: v for k, v in self._session(row).items() if k not in params})
        event = {"name": row.event_name, "params": params, "timestamp_micros": self._micros(row)}
        return Outgoing(
            row.event_id,
            row.event_time.timestamp(),
            common[0],
            (event,),
            transaction_id=row.transaction_id if row.event_name == "purchase" else "",
            check=common[1],
        )

    @staticmethod
    def _mp_fields(row: EventRow, private: dict[str, Any], mask: int) -> dict[str, Any]:
        """MP ingest's request-level fields, each under the consent it needs (module docstring)."""
        fields: dict[str, Any] = {}
        for name, param in MP_PARAMS.items():
            if param in row.params:
                fields[name] = json.loads(row.params[param])
        if row.user_agent:
            fields["user_agent"] = row.user_agent
        fields.update((k, v) for k, v in private.items() if k in PRIVATE_FIELDS and v)
        for name, purpose in CONSENT_NEEDS.items():
            if not has(mask, purpose):
                fields.pop(name, None)
        return fields
