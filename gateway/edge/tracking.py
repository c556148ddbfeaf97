"""The tracking edge: ``GET /o/<token>.gif`` (opens) and ``GET /c/<token>`` (clicks).

The answer never depends on the verdict or on the store: the pixel always gets the GIF,
a click with a validly signed token always gets its redirect (even when expired: the
destination is ours and the person must reach the shop), a tampered one the fallback.
What changes is the record: it is committed to the outbox before the answer goes out,
with the machine verdict, the truncated IP and the shop's GA client id when the `_ga`
cookie is readable. ``HEAD`` gets the same answer and records nothing.

Consent (``email_tracking``, from the in-memory snapshot, never a query): a recipient without it
is recorded anonymously (campaign and link only: no recipient, client id, IP or user agent, and a
landing token that names nobody), or not at all with ``GA4GW_CONSENT_UNTRACKED=drop``.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote, unquote_plus

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.config.settings import Settings
from gateway.state.consent_link import ConsentLink
from gateway.state.identity_link import landing_pseudonym, person_of
from gateway.stores.outbox import Outbox
from gateway.telemetry.metrics import Metrics
from identity import LandingTokens, Pseudonymizer
from identity.personal import PersonalData
from warehouse import EventRow, revision_row

from .domains import host_allowed, host_of, landing_domains
from .links import BadToken, LinkSigner, LinkToken, Mode, TokenKind
from .machine import Classifier, Hit, Verdict
from .privacy import truncate_ip

__all__ = ["GIF", "Edge", "EdgeDispatch", "ga_client_id", "landing_url"]

log = logging.getLogger(__name__)

GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501
_NO_STORE = [
    (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
_GIF_HEADERS = [(b"content-type", b"image/gif"), (b"content-length", str(len(GIF)).encode()), *_NO_STORE]
_REDIRECT_HEADERS = [(b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"), (b"content-length", b"0")]
_URL_SAFE = ":/%#?=@[]!$&'()*+,;~"
_NOT_VALID = b"""<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width">
<title>Link not valid</title><body style="font-family:sans-serif;max-width:32em;margin:4em auto;padding:0 1em">
<h1>This link is not valid</h1><p>It may have been copied incompletely. Please go back to the email and try again,
or visit the shop directly.</p></body></html>"""
_NOT_VALID_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", str(len(_NOT_VALID)).encode()),
    (b"cache-control", b"no-store"),
]
_UA_LIMIT = 512
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")
# Event ids: a random per-process prefix and a counter, unique without a system call per hit.
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count()


def _event_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"


@dataclass(frozen=True, slots=True)
class _Incoming:
    """What the edge reads of a request: no Starlette Request on this path (it is the hot one)."""

    method: str
    token: str
    headers: dict[str, str]  # lower-case names
    ip: str


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header_url(url: str) -> bytes:
    """A URL fit for a Location header: percent-encode anything outside printable ASCII (no CR/LF injection)."""
    if not (url.isascii() and url.isprintable()):
        url = quote(url, safe=_URL_SAFE)
    return url.encode("ascii")


def _cookie(header: str, name: str) -> str:
    """The value of cookie ``name`` in a Cookie header ("" when absent); ``_ga`` is not ``_ga_XYZ``."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def ga_client_id(cookie: str | None) -> str:
    """The GA client id inside a ``_ga`` cookie (``GA1.1.123456789.1700000000`` -> ``123456789.1700000000``)."""
    if not cookie:
        return ""
    parts = cookie.split(".")
    # isascii: "²³".isdigit() is True, and headers are read as Latin-1; GA4 takes ASCII digits only
    if len(parts) < 4 or not (parts[-2].isascii() and parts[-2].isdigit() and parts[-1].isascii()
                              and parts[-1].isdigit()):  # fmt: skip
        return ""
    return f"{parts[-2]}.{parts[-1]}"


def _quote(value: str) -> str:
    """Percent-encode a query value; most values (ids, tokens) need nothing, so skip the work for them."""
    return value if _PLAIN.fullmatch(value) else quote(value, safe="")


def landing_url(destination: str, params: dict[str, str], *, override: bool, landing: tuple[str, str]) -> str:
    """``destination`` with ``params`` added (kept when present unless ``override``) and the landing token.

    The existing query is kept byte for byte (only overridden pairs are removed), and so is the fragment.
    ``landing`` is (parameter, token); a token of "" adds none, and a landing parameter already in the
    destination is always removed (only the gateway puts one there).
    """
    base, hash_mark, fragment = destination.partition("#")
    path, _, query = base.partition("?")
    pairs = query.split("&") if query else []
    if pairs and ("utm_" in query or landing[0] in query):
        names = {unquote_plus(p.partition("=")[0]) for p in pairs}
        removed = {*params, landing[0]} if override else {landing[0]}
        pairs = [p for p in pairs if unquote_plus(p.partition("=")[0]) not in removed]
    else:
        names = set()
    pairs += [f"{k}={_quote(v)}" for k, v in params.items() if v and (override or k not in names)]
    if landing[1]:
        pairs.append(f"{landing[0]}={_quote(landing[1])}")
    return f"{path}?{'&'.join(pairs)}{hash_mark}{fragment}" if pairs else f"{path}{hash_mark}{fragment}"


class Edge:
    """Serves and records opens and clicks."""

    def __init__(
        self,
        settings: Settings,
        signer: LinkSigner,
        pseudonymizer: Pseudonymizer,
        landing: LandingTokens,
        classifier: Classifier,
        metrics: Metrics,
        consent: ConsentLink,
    ) -> None:
        self._settings = settings
        self._consent = consent
        self._region_header = settings.consent_region_header
        self._drop_untracked = settings.consent_untracked == "drop"
        self._signer = signer
        self._pseudonymizer = pseudonymizer
        self._personal = PersonalData(pseudonymizer)
        self._landing = landing
        self._landing_domains = landing_domains(settings.landing_domains, settings.public_url)
        self._classifier = classifier
        self.outbox: Outbox | None = None  # opened by the app's lifespan
        self._metrics = metrics
        metrics.describe("ga4gw_hits_total", "Opens and clicks recorded, by kind and verdict")
        metrics.describe("ga4gw_bad_tokens_total", "Requests whose token was malformed, tampered or unknown")
        metrics.describe("ga4gw_hits_dropped_total", "Hits answered but not recorded (outbox full or failing)")
        metrics.describe("ga4gw_verdict_revisions_total", "Earlier hits whose verdict a later burst revised")
        metrics.describe("ga4gw_hits_untracked_total", "Personal hits recorded anonymously or not at all (no consent)")
        metrics.describe(
            "ga4gw_personal_data_replaced_total",
            "Emails and phone numbers found in stored params or URLs and replaced by their pseudonyms",
        )

    async def __call__(self, scope: Scope, send: Send) -> None:
        """Answer a request under ``/o/`` or ``/c/`` (``EdgeDispatch`` routes them here)."""
        path: str = scope["path"]
        method: str = scope["method"]
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, [(b"allow", b"GET, HEAD"), (b"content-length", b"0")], b"")
            return
        client = scope.get("client")
        hit = _Incoming(
            method=method,
            token=path[3:],
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            ip=client[0] if client else "",
        )
        if path[1] == "o":
            await self.pixel(hit, send)
        else:
            await self.click(hit, send)

    async def pixel(self, hit: _Incoming, send: Send) -> None:
        try:
            if hit.method == "GET":
                await self._record_open(hit)
        except Exception:  # the pixel answers whatever happens
            log.exception("recording an open failed")
            self._metrics.inc("ga4gw_hits_dropped_total", kind="open", reason="error")
        await _respond(send, 200, _GIF_HEADERS, b"" if hit.method == "HEAD" else GIF)

    async def _record_open(self, hit: _Incoming) -> None:
        try:
            token = self._signer.verify(TokenKind.OPEN, hit.token.removesuffix(".gif"))
        except BadToken:
            self._metrics.inc("ga4gw_bad_tokens_total", kind="open")
            return
        now = time.time()
        personal, consent = self._tracking(hit, token, "open", "")
        if personal is None:
            return
        event_id = _event_id()
        verdict = self._classify(hit, token, "open", now, event_id)
        row = self._row(hit, token, "email_open", "open", verdict, now, {}, personal, consent, event_id)
        await self._commit(row, "open")
        await self._revise(verdict, now)

    async def click(self, hit: _Incoming, send: Send) -> None:
        try:
            token = self._signer.verify(TokenKind.CLICK, hit.token)
        except BadToken:
            self._metrics.inc("ga4gw_bad_tokens_total", kind="click")
            await self._fallback(hit, send)
            return
        try:
            location = await self._redirect(hit, token)
        except Exception:  # the person still reaches the shop, untracked
            log.exception("recording a click failed")
            self._metrics.inc("ga4gw_hits_dropped_total", kind="click", reason="error")
            location = token.url
        await _respond(send, 302, [(b"location", _header_url(location)), *_REDIRECT_HEADERS], b"")

    async def _redirect(self, hit: _Incoming, token: LinkToken) -> str:
        now = time.time()
        event_id = _event_id()
        settings = self._settings
        anonymous = token.mode is Mode.ANONYMOUS or not token.recipient
        pseudonym = "" if anonymous else self._pseudonymizer.pseudonym("rc", token.recipient)
        personal, consent = self._tracking(hit, token, "click", pseudonym) if hit.method == "GET" else (None, {})
        lt = ""  # only the shop's own sites get a token (GA4GW_LANDING_DOMAINS): never a third party
        if host_allowed(host_of(token.url), self._landing_domains):
            lt = self._landing.issue(
                recipient_pseudonym=landing_pseudonym(token.recipient, self._pseudonymizer) if personal else "",
                campaign_id=token.campaign_id,
                link_id=token.link_id,
                event_id=event_id,
                now=now,
            )
        utm = {
            "utm_source": settings.utm_source,
            "utm_medium": "email",
            "utm_campaign": token.campaign_id,
            "utm_content": f"{token.variant}-{token.link_id}" if token.variant else token.link_id,
            "utm_id": token.campaign_id,
        }
        location = landing_url(token.url, utm, override=settings.utm_override, landing=(settings.landing_param, lt))
        if personal is not None:
            verdict = self._classify(hit, token, "click", now, event_id)
            extra = {"expired": "1"} if token.expired(now) else {}
            row = self._row(hit, token, "email_click", "click", verdict, now, extra, personal, consent, event_id)
            await self._commit(row, "click")
            await self._revise(verdict, now)
        return location

    def _tracking(
        self, hit: _Incoming, token: LinkToken, kind: str, pseudonym: str
    ) -> tuple[bool | None, dict[str, str]]:
        """(personal, the row's consent map) of a hit; personal is None when it must not be recorded at all."""
        header = hit.headers.get(self._region_header, "") if self._region_header else ""
        region = self._consent.region(header if len(header) == 2 and header.isascii() and header.isalpha() else "")
        consent = {"region": region} if region else {}
        if token.mode is Mode.ANONYMOUS or not token.recipient:
            return False, consent
        subjects: list[str] = []
        if self._consent.decisions:  # nobody decided anything yet (a fresh install): no pseudonym to compute
            subjects = [pseudonym or self._pseudonymizer.pseudonym("rc", token.recipient), token.recipient]
            if token.email_pseudonym:
                subjects.append(token.email_pseudonym)
        if self._consent.tracks(subjects, region):
            return True, {**consent, "email_tracking": "granted"}
        how = "dropped" if self._drop_untracked else "anonymous"
        self._metrics.inc("ga4gw_hits_untracked_total", kind=kind, how=how)
        return (None if self._drop_untracked else False), {**consent, "email_tracking": "denied"}

    async def _fallback(self, hit: _Incoming, send: Send) -> None:
        if self._settings.fallback_url:
            headers = [(b"location", _header_url(self._settings.fallback_url)), *_REDIRECT_HEADERS]
            await _respond(send, 302, headers, b"")
        else:
            await _respond(send, 404, _NOT_VALID_HEADERS, b"" if hit.method == "HEAD" else _NOT_VALID)

    def _classify(self, hit: _Incoming, token: LinkToken, kind: str, now: float, event_id: str) -> Verdict:
        return self._classifier.classify(
            Hit(
                kind="open" if kind == "open" else "click",
                method=hit.method,
                headers=hit.headers,
                ip=hit.ip,
                campaign_id=token.campaign_id,
                recipient=token.recipient,
                link_id=token.link_id or None,
                send_time=token.sent_time,
                now=datetime.fromtimestamp(now, UTC),
                event_id=event_id,
            )
        )

    async def _revise(self, verdict: Verdict, now: float) -> None:
        """Record the revisions of earlier hits this one's burst made (they reach views, attribution and GA4)."""
        moment = datetime.fromtimestamp(now, UTC)
        for revision in verdict.revisions:
            row = revision_row(
                _event_id(),
                revises=revision.event_id,
                hit=revision.kind,
                campaign_id=revision.campaign_id,
                link_id=revision.link_id,
                previous=revision.previous.value,
                verdict=revision.verdict.value,
                reasons=revision.reasons,
                at=moment,
            )
            assert self.outbox is not None, "the app's lifespan opens the outbox before any request"
            if await self.outbox.append(row.event_id, row.to_json()):
                self._metrics.inc("ga4gw_verdict_revisions_total", hit=revision.kind, verdict=revision.verdict.value)
            else:
                self._metrics.inc("ga4gw_hits_dropped_total", kind="revision", reason="outbox_full")

    def _row(
        self,
        hit: _Incoming,
        token: LinkToken,
        name: str,
        source: str,
        verdict: Verdict,
        now: float,
        extra: dict[str, str],
        personal: bool,
        consent: dict[str, str],
        event_id: str = "",
    ) -> EventRow:
        moment = datetime.fromtimestamp(now, UTC)
        params = {"mode": token.mode.value if personal else Mode.ANONYMOUS.value, "key_id": token.key_id, **extra}
        if token.expires_at:
            params["expires_at"] = str(token.expires_at)
        if token.sent_at:
            params["sent_at"] = str(token.sent_at)
        recipient = client_id = ip_truncated = user_agent = ""
        if personal:  # anonymous: campaign and link only, no person, address or device
            if token.email_pseudonym:
                params["email_pseudonym"] = token.email_pseudonym
            recipient = token.recipient
            client_id = ga_client_id(_cookie(hit.headers.get("cookie", ""), "_ga"))
            ip_truncated = truncate_ip(hit.ip, self._settings.ip_v4_prefix, self._settings.ip_v6_prefix)
            user_agent = hit.headers.get("user-agent", "")[:_UA_LIMIT]
        row = EventRow(
            event_id=event_id or _event_id(),
            event_time=moment,
            received_at=moment,
            event_name=name,
            source=source,
            campaign_id=token.campaign_id,
            variant=token.variant,
            link_id=token.link_id,
            verdict=verdict.kind.value,
            verdict_reasons=(*verdict.reasons, "link_expired") if extra.get("expired") else verdict.reasons,
            url=self._stored_url(token.url, source),
            consent=consent,
            params=params,
            recipient=recipient,
            ga_client_id=client_id,
            ip_truncated=ip_truncated,
            user_agent=user_agent,
        )
        # The person the hit names, for attribution (an anonymous hit names nobody).
        return replace(row, person_id=person_of(row, self._pseudonymizer)) if personal else row

    def _stored_url(self, url: str, kind: str) -> str:
        """The destination as the warehouse keeps it: a sender may have put ``?email=`` in it (a merge tag)."""
        if not self._personal.suspect(url):  # the usual case: a few substring tests
            return url
        found: Counter[str] = Counter()
        url = self._personal.text(url, found)
        for what, count in found.items():
            self._metrics.inc("ga4gw_personal_data_replaced_total", count, kind=what, route=kind)
        return url

    async def _commit(self, row: EventRow, kind: str) -> None:
        assert self.outbox is not None, "the app's lifespan opens the outbox before any request"
        if await self.outbox.append(row.event_id, row.to_json()):
            self._metrics.inc("ga4gw_hits_total", kind=kind, verdict=row.verdict)
        else:
            self._metrics.inc("ga4gw_hits_dropped_total", kind=kind, reason="outbox_full")


class EdgeDispatch:
    """Pure ASGI middleware: ``/o/`` and ``/c/`` go straight to the edge, everything else to the app.

    The tracking routes skip Starlette's router, request objects and response classes: they are the
    hot path, and a pure ASGI hop costs nothing next to them.
    """

    def __init__(self, app: ASGIApp, edge: Edge) -> None:
        self.app = app
        self.edge = edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"][:3] in ("/o/", "/c/"):
            await self.edge(scope, send)
        else:
            await self.app(scope, receive, send)
