"""Signed tracking links and pixels.

A token is ``<key id>.<payload>.<signature>``: the payload is the link's fields joined by
a unit separator and base64url-encoded (far shorter than JSON, which matters in email),
the signature an itsdangerous HMAC with a salt per kind (opens and clicks cannot be
swapped). The newest key of the keyring signs; every key verifies, so rotating a key
never breaks links already sent. Tokens are signed, not encrypted: anyone holding a link
can read it, so no email or name ever goes in; an email given by the sender becomes its
keyed pseudonym.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from itsdangerous import BadSignature, Signer

from gateway.config.keys import Keyring
from gateway.errors import DestinationRefused
from identity import Pseudonymizer
from identity.personal import is_email

from .domains import host_allowed, host_of

__all__ = ["MAX_FIELD", "BadToken", "LinkSigner", "LinkToken", "Mode", "TokenKind", "destination_problem"]

_SEP = "\x1f"
_FORMAT = "1"
_SCHEMES = {"https://": "s", "http://": "h"}
_VERBATIM = "u"  # a destination whose scheme is not written in lower case is carried as it is
_UNSCHEMES = {v: k for k, v in _SCHEMES.items()} | {_VERBATIM: ""}
_HTTP_PREFIX = re.compile(r"https?://", re.IGNORECASE)
MAX_FIELD = 4096  # characters of a token field (a destination URL, say)


class TokenKind(StrEnum):
    OPEN = "o"
    CLICK = "c"


class Mode(StrEnum):
    """How much the gateway may know of the recipient, frozen when the email is sent."""

    ANONYMOUS = "a"  # campaign and link only
    PSEUDONYMOUS = "p"  # the sender's recipient key or a keyed pseudonym
    IDENTIFIED = "i"  # as pseudonymous, and the sender vouches the key maps to a known customer


class BadToken(ValueError):
    """A token that is malformed, badly signed, signed with an unknown key, or of the other kind."""


@dataclass(frozen=True, slots=True)
class LinkToken:
    """What a tracking link or pixel carries."""

    kind: TokenKind
    campaign_id: str
    recipient: str = ""  # the sender's subscriber key as given, or an email's pseudonym
    link_id: str = ""
    url: str = ""  # clicks only: the destination
    variant: str = ""
    sent_at: int = 0  # epoch seconds; 0 when unknown
    mode: Mode = Mode.PSEUDONYMOUS
    expires_at: int = 0  # epoch seconds; 0 for never
    email_pseudonym: str = ""  # when the sender gave an email as well as its own key
    key_id: str = ""  # filled in on verification

    def expired(self, now: float) -> bool:
        return bool(self.expires_at) and now >= self.expires_at

    @property
    def sent_time(self) -> datetime | None:
        return datetime.fromtimestamp(self.sent_at, UTC) if self.sent_at else None


def _b36(number: int) -> str:
    if number < 0:  # divmod(-1, 36) is (-1, 35): the loop below would never end
        raise ValueError("a negative number has no base-36 form in a token")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


# WHATWG URL standard, "forbidden domain code point", less the ones urlsplit already splits on (/ ? # @ :).
_FORBIDDEN_IN_HOST = re.compile(r'[\s<>"^|{}`\\%\[\]\x00-\x1f\x7f]')


def destination_problem(url: str) -> str | None:
    """Why ``url`` cannot be a click destination, or None when it can.

    A destination is redirected to exactly as given, so it must be one a Location header can carry
    and a browser follows: an absolute http(s) URL, in any letter case, with a host, no whitespace
    or control character at its ends and no control character inside, and a host a browser would look up:
    none of the WHATWG URL standard's forbidden domain code points (space, ``<>"^|{}`` and friends), which
    mark a template placeholder or markup caught in the host rather than a site.
    """
    if not _HTTP_PREFIX.match(url):
        return "not an absolute http(s) URL"
    if len(url) > MAX_FIELD:
        return f"at most {MAX_FIELD} characters"
    if not url.isprintable() or url != url.strip():
        return "holds a control character or leading/trailing whitespace"
    try:
        netloc = urlsplit(url).netloc
    except ValueError as exc:  # "Invalid IPv6 URL", a bad port...
        return f"not a valid URL ({exc})"
    host = netloc.rpartition("@")[2]
    if not host:
        return "not an absolute http(s) URL: it has no host"
    # an IPv6 literal ("[...]", then a port) was checked by urlsplit; a name or IPv4 address ends at ":"
    if not host.startswith("[") and _FORBIDDEN_IN_HOST.search(host.partition(":")[0]):
        return "the host holds a character no browser accepts in a host name (a placeholder or markup?)"
    return None


def _encode(token: LinkToken) -> bytes:
    url = token.url
    if url:
        url = _VERBATIM + url  # "HTTP://", "Https://": the destination is redirected to exactly as signed
        for prefix, code in _SCHEMES.items():
            if token.url.startswith(prefix):
                url = code + token.url[len(prefix) :]
                break
    fields = [
        _FORMAT,
        token.campaign_id,
        token.recipient,
        token.link_id,
        url,
        token.variant,
        _b36(token.sent_at) if token.sent_at else "",
        token.mode.value,
        _b36(token.expires_at) if token.expires_at else "",
        token.email_pseudonym,
    ]
    while fields and not fields[-1]:
        fields.pop()  # trailing empty fields cost a separator each
    return _SEP.join(fields).encode()


def _decode(kind: TokenKind, raw: bytes, kid: str) -> LinkToken:
    fields = raw.decode().split(_SEP)
    if fields[0] != _FORMAT or len(fields) > 10:
        raise BadToken("unknown token format")
    fields += [""] * (10 - len(fields))
    _, campaign, recipient, link_id, url, variant, sent, mode, expires, email_pseudonym = fields
    if url:
        if url[0] not in _UNSCHEMES:
            raise BadToken("bad destination")
        url = _UNSCHEMES[url[0]] + url[1:]
        if not _HTTP_PREFIX.match(url):
            raise BadToken("bad destination")
    return LinkToken(
        kind=kind,
        campaign_id=campaign,
        recipient=recipient,
        link_id=link_id,
        url=url,
        variant=variant,
        sent_at=int(sent, 36) if sent else 0,
        mode=Mode(mode or Mode.PSEUDONYMOUS.value),
        expires_at=int(expires, 36) if expires else 0,
        email_pseudonym=email_pseudonym,
        key_id=kid,
    )


class _Signer(Signer):
    """itsdangerous' Signer, deriving its key once instead of on every sign and verify (the click path)."""

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        if secret_key is not None:
            return super().derive_key(secret_key)
        derived: bytes | None = getattr(self, "_derived", None)
        if derived is None:
            derived = self._derived = super().derive_key()
        return derived


class LinkSigner:
    """Signs and verifies tracking tokens, and builds the tracked URLs on the public base URL."""

    def __init__(
        self, keyring: Keyring, public_url: str, pseudonymizer: Pseudonymizer, destinations: tuple[str, ...] = ()
    ) -> None:
        self._keyring = keyring
        self.destinations = destinations  # empty: any http(s) destination
        self._base = public_url.rstrip("/")
        self._pseudonymizer = pseudonymizer
        self._signers = {
            (kid, kind): _Signer(secret, salt=f"ga4gw.{kind.name.lower()}", sep=".", key_derivation="hmac")
            for kid, secret in keyring.keys
            for kind in TokenKind
        }

    def recipient_fields(self, mode: Mode, recipient: str = "", email: str = "") -> dict[str, str]:
        """The recipient fields of a token: the key as given, else the email's pseudonym; none if anonymous.

        A key shaped like an email (``identity.is_email``, the rule that finds emails everywhere else)
        is taken for one: senders often use the address as their subscriber key, and a token is only
        signed, so the raw address would be readable in the URL and stored in ``events.recipient``.
        """
        if mode is Mode.ANONYMOUS:
            return {"recipient": ""}
        pseudonym = self._pseudonymizer.email(email) if email else ""
        recipient = self._key(recipient.strip())
        if recipient:
            return {"recipient": recipient, "email_pseudonym": pseudonym}
        return {"recipient": pseudonym}

    def _key(self, recipient: str) -> str:
        """The recipient key as given, or its keyed pseudonym when it is an email address."""
        return self._pseudonymizer.email(unquote(recipient)) if is_email(recipient) else recipient

    def sign(self, token: LinkToken) -> str:
        """The token string of ``token`` (signed with the newest key).

        An email-shaped recipient is replaced by its pseudonym here too, for code that builds tokens
        itself: no raw address is ever in a URL the gateway signs.
        """
        if token.recipient and is_email(token.recipient):
            token = replace(token, recipient=self._key(token.recipient))
        if token.kind is TokenKind.CLICK:
            if problem := destination_problem(token.url):
                raise ValueError(f"the click destination {token.url[:200]!r} cannot be signed: {problem}")
            if self.destinations and not host_allowed(host := host_of(token.url), self.destinations):
                raise DestinationRefused(token.url, host)
        for value in (token.campaign_id, token.recipient, token.link_id, token.url, token.variant):
            if _SEP in value or len(value) > MAX_FIELD:
                raise ValueError("a token field holds a control character or is longer than 4096 characters")
        kid, _ = self._keyring.current
        payload = base64.urlsafe_b64encode(_encode(token)).rstrip(b"=")
        return f"{kid}." + self._signers[(kid, token.kind)].sign(payload).decode()

    def verify(self, kind: TokenKind, text: str) -> LinkToken:
        """Check a token's signature and decode it; raise ``BadToken`` otherwise. Expiry is not checked here."""
        kid, _, rest = text.partition(".")
        signer = self._signers.get((kid, kind))
        if signer is None or len(text) > 3 * MAX_FIELD:
            raise BadToken("unknown key id")
        try:
            payload = signer.unsign(rest.encode("ascii"))
            raw = base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))
            return _decode(kind, raw, kid)
        except (BadSignature, UnicodeError, binascii.Error, ValueError) as exc:
            raise BadToken(str(exc) or "bad token") from None

    def click_url(self, token: LinkToken) -> str:
        return f"{self._base}/c/{self.sign(replace(token, kind=TokenKind.CLICK))}"

    def pixel_url(self, token: LinkToken) -> str:
        return f"{self._base}/o/{self.sign(replace(token, kind=TokenKind.OPEN, url='', link_id=''))}.gif"

    @staticmethod
    def now() -> int:
        return int(time.time())
