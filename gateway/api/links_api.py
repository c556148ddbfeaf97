"""Tracked links for the sending module: ``POST /v1/links``, and the same as Python functions and CLI.

One implementation (``tracked_links``, ``tracked_html``) serves the route, the CLI and code that
imports it. The sender gives its own subscriber key (kept as given) and/or an email (only its keyed
pseudonym is used; it never travels in a URL), and either URLs or a whole HTML body.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.config.keys import load_keyrings
from gateway.config.settings import Settings
from gateway.edge.domains import host_allowed, host_of
from gateway.edge.links import LinkSigner, LinkToken, Mode, TokenKind, destination_problem
from gateway.edge.rewrite import RewriteResult, rewrite_html
from gateway.errors import InvalidRequest
from identity import Pseudonymizer
from identity.personal import is_email

from .auth import authenticate
from .bodies import read_json

__all__ = ["build_link_signer", "recipient_warnings", "routes", "tracked_html", "tracked_links", "untracked_json"]

_MAX_BODY = 2 * 1024 * 1024 + 64 * 1024  # a 2 MiB HTML body plus its JSON envelope
_MAX_URLS = 1000
_LAST_SENT_AT = 4_102_444_800  # 2100-01-01
_MODES = {"anonymous": Mode.ANONYMOUS, "pseudonymous": Mode.PSEUDONYMOUS, "identified": Mode.IDENTIFIED}


def build_link_signer(settings: Settings) -> LinkSigner:
    """The signer the gateway uses, from the settings' keyrings (for the CLI and the sending module's code)."""
    keys = load_keyrings(settings)
    return LinkSigner(keys.signing, settings.public_url, Pseudonymizer(keys.pseudonym.keys), settings.link_destinations)


def _base_token(
    signer: LinkSigner,
    *,
    campaign: str,
    recipient: str,
    email: str,
    variant: str,
    mode: Mode,
    sent_at: int | None,
    expires_in_days: int,
) -> LinkToken:
    sent = int(time.time()) if sent_at is None else sent_at
    return LinkToken(
        kind=TokenKind.CLICK,
        campaign_id=campaign,
        variant=variant,
        sent_at=sent,
        mode=mode,
        expires_at=sent + expires_in_days * 86400 if expires_in_days else 0,
        **signer.recipient_fields(mode, recipient, email),
    )


def tracked_links(
    signer: LinkSigner,
    *,
    campaign: str,
    urls: Sequence[str],
    recipient: str = "",
    email: str = "",
    variant: str = "",
    mode: Mode = Mode.PSEUDONYMOUS,
    sent_at: int | None = None,
    expires_in_days: int = 0,
) -> tuple[list[str], str]:
    """Tracked click URLs for ``urls`` (link ids "1".."n" in order) and the open pixel URL."""
    base = _base_token(
        signer, campaign=campaign, recipient=recipient, email=email, variant=variant, mode=mode, sent_at=sent_at,
        expires_in_days=expires_in_days,
    )  # fmt: skip
    tracked = [signer.click_url(replace(base, link_id=str(i), url=url)) for i, url in enumerate(urls, 1)]
    return tracked, signer.pixel_url(base)


def tracked_html(
    signer: LinkSigner,
    html: str,
    *,
    campaign: str,
    recipient: str = "",
    email: str = "",
    variant: str = "",
    mode: Mode = Mode.PSEUDONYMOUS,
    sent_at: int | None = None,
    expires_in_days: int = 0,
    track_unsubscribe: bool = False,
) -> tuple[RewriteResult, str]:
    """``html`` with every trackable link signed and the pixel added (``gateway.edge.rewrite``); and the pixel URL."""
    base = _base_token(
        signer, campaign=campaign, recipient=recipient, email=email, variant=variant, mode=mode, sent_at=sent_at,
        expires_in_days=expires_in_days,
    )  # fmt: skip
    pixel = signer.pixel_url(base)
    result = rewrite_html(
        html,
        lambda url, link_id: signer.click_url(replace(base, link_id=link_id, url=url)),
        pixel_url=pixel,
        track_unsubscribe=track_unsubscribe,
    )
    return result, pixel


def recipient_warnings(recipient: str, mode: Mode) -> list[str]:
    """What the sender should know about its recipient key: an email given as the key is pseudonymised."""
    if mode is not Mode.ANONYMOUS and is_email(recipient):
        return [
            "recipient looks like an email address: its keyed pseudonym was used instead, so the address is"
            " in no link and not stored; give your own subscriber key as recipient and the address as email"
        ]
    return []


def untracked_json(result: RewriteResult) -> list[dict[str, str]]:
    """The links the rewriter left alone, for the JSON answer."""
    return [
        {"url": link.url, "tag": link.tag, "reason": link.reason, **({"detail": link.detail} if link.detail else {})}
        for link in result.untracked
    ]


def _sent_at(value: object, errors: dict[str, str]) -> int | None:
    """Epoch seconds of the send; bounded, because the edge turns it into a datetime on every hit."""
    if value is None:
        return None
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) if math.isfinite(value) else None
    elif isinstance(value, str):
        try:
            seconds = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except (ValueError, OverflowError):
            seconds = None
    if seconds is not None and 0 < seconds < _LAST_SENT_AT:
        return int(seconds)
    errors["sent_at"] = "expected an ISO-8601 time or epoch seconds, before 2100"
    return None


def _url_problem(url: object, destinations: tuple[str, ...]) -> str | None:
    """The signer's own rule (``destination_problem``), so a URL accepted here is one a click redirects to."""
    if not isinstance(url, str):
        return "not an absolute http(s) URL"
    if problem := destination_problem(url.strip()):
        return problem
    if destinations and not host_allowed(host := host_of(url.strip()), destinations):
        return f"links may not lead to {host} (allowed: {', '.join(destinations)}; GA4GW_LINK_DESTINATIONS)"
    return None


def _parse(body: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Check every field and collect all problems at once, so the sender fixes them in one go.

    Every string a token carries is checked here against what the signer takes (length, no control
    characters), so a field it would refuse is a 422 naming the field, never a 500.
    """
    errors: dict[str, str] = {}
    campaign = body.get("campaign")
    if not isinstance(campaign, str) or not 1 <= len(campaign.strip()) <= 128 or not campaign.isprintable():
        errors["campaign"] = "required: a string of 1 to 128 printable characters"
    mode = _MODES.get(str(body.get("mode", "pseudonymous")))
    if mode is None:
        errors["mode"] = f"one of {', '.join(_MODES)}"
    strings = {}
    for name in ("recipient", "email", "variant"):
        value = body.get(name, "")
        if not isinstance(value, str) or len(value) > 256 or not value.isprintable():
            errors[name] = "a string of at most 256 printable characters"
        strings[name] = value if isinstance(value, str) else ""
    if strings["email"] and "@" not in strings["email"]:
        errors["email"] = "not an email address"
    if mode is not Mode.ANONYMOUS and not (strings["recipient"].strip() or strings["email"].strip()):
        errors["recipient"] = "a recipient or an email is required unless mode is anonymous"
    expires = body.get("expires_in_days", settings.link_ttl_days)
    if not isinstance(expires, int) or isinstance(expires, bool) or not 0 <= expires <= 3650:
        errors["expires_in_days"] = "a whole number of days, 0 to 3650"
    urls, html = body.get("urls"), body.get("html")
    if (urls is None) == (html is None):
        errors["urls"] = "give exactly one of urls or html"
    elif urls is not None:
        if not isinstance(urls, list) or not 1 <= len(urls) <= _MAX_URLS:
            errors["urls"] = f"a list of 1 to {_MAX_URLS} URLs"
        else:
            for i, url in enumerate(urls):
                if problem := _url_problem(url, settings.link_destinations):
                    errors[f"urls.{i}"] = problem
    elif not isinstance(html, str):
        errors["html"] = "a string"
    track_unsubscribe = body.get("track_unsubscribe", settings.track_unsubscribe)
    if not isinstance(track_unsubscribe, bool):
        errors["track_unsubscribe"] = "true or false"
    sent_at = _sent_at(body.get("sent_at"), errors)
    if errors:
        raise InvalidRequest("the request has invalid fields", errors)
    return {
        "campaign": str(campaign).strip(),
        "recipient": strings["recipient"],
        "email": strings["email"],
        "variant": strings["variant"],
        "mode": mode,
        "sent_at": sent_at,
        "expires_in_days": expires,
        "urls": [u.strip() for u in urls] if urls is not None else None,
        "html": html,
        "track_unsubscribe": track_unsubscribe,
    }


async def create_links(request: Request) -> JSONResponse:
    """``POST /v1/links`` (scope ``links:write``): tracked URLs, or the rewritten HTML, plus the pixel."""
    authenticate(request, "links:write")
    settings: Settings = request.app.state.settings
    signer: LinkSigner = request.app.state.link_signer
    fields = _parse(await read_json(request, _MAX_BODY), settings)
    common = {k: fields[k] for k in ("campaign", "recipient", "email", "variant", "mode", "sent_at", "expires_in_days")}
    warnings = recipient_warnings(fields["recipient"], fields["mode"])
    if fields["urls"] is not None:
        tracked, pixel = tracked_links(signer, urls=fields["urls"], **common)
        links = [
            {"link_id": str(i), "url": u, "tracked": t}
            for i, (u, t) in enumerate(zip(fields["urls"], tracked, strict=True), 1)
        ]
        return JSONResponse({"links": links, "pixel": pixel, "warnings": warnings})
    # The rewriter never raises: a link the signer refuses is left as it was and listed in "untracked".
    result, pixel = tracked_html(signer, fields["html"], track_unsubscribe=fields["track_unsubscribe"], **common)
    links = [{"link_id": link.link_id, "url": link.original, "tracked": link.tracked} for link in result.links]
    untracked = untracked_json(result)
    return JSONResponse(
        {"html": result.html, "links": links, "untracked": untracked, "pixel": pixel, "warnings": warnings}
    )


def routes() -> list[Route]:
    return [Route("/v1/links", create_links, methods=["POST"])]
