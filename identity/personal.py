"""Personal data inside free text: email addresses and phone numbers replaced by their keyed pseudonyms.

Senders put people's addresses where nobody asked for them: ``page_location`` of a confirmation
page (``/thanks?email=ann@example.com``), a custom param, a destination URL with an ESP's merge tag
rendered in it. The routes refuse an email as ``user_id``; this finds the ones hidden in params so
that they never reach a store or GA4 (which forbids them too). Each is replaced by the pseudonym
the gateway uses for it anyway (``em_...``, ``ph_...``), so it still joins, and counted.

The rules, chosen to find real addresses without touching order ids, prices, times or client ids:

email   ``local@domain.tld`` anywhere in a string: local part of letters, digits and ``.+_'-``
        (``%2B`` for an encoded ``+``), the at sign as ``@`` or ``%40``, a domain of two or more
        labels whose last label is a real top-level domain (the public suffix list, shipped offline
        with ``publicsuffixlist``) or one reserved for tests (``.example``, ``.test``...). So
        ``logo@2x.png`` and ``user@localhost`` are kept. The pseudonym is of the lower-cased,
        percent-decoded address: the one ``Pseudonymizer.email`` gives for it.
phone   (1) the whole value of a key named like a phone (a word of the key is ``phone``, ``tel``,
        ``telephone``, ``mobile``, ``cell``, ``msisdn``, ``fax``, ``whatsapp`` or ``sms``;
        ``hotel`` is not ``tel``) when it holds 7 to 15 digits and only phone punctuation; and
        (2) anywhere, a ``+`` followed by 8 to 15 digits (first one not 0) with single spaces,
        dots, dashes or brackets between them: the E.164 form. Bare digit runs elsewhere are never
        taken for phones (they are order ids, prices, timestamps). The pseudonym is of the digits,
        with the ``+`` when there was one.
URLs    each query value is percent-decoded (twice at most, for a URL inside a URL) and scanned with
        its key as the key; a changed value is percent-encoded again and the rest of the URL is kept
        byte for byte. The path and fragment are scanned as text.

A string without ``@``, ``%40``, ``+``, ``%2B`` or a digit after a phone-like key costs a few
``in`` tests: the pre-check the click's hot path relies on.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from typing import Any
from urllib.parse import quote, unquote

from publicsuffixlist import PublicSuffixList

from .pseudonym import Pseudonymizer

__all__ = ["PersonalData", "is_email", "is_phone_key", "public_suffixes"]

_EMAIL = re.compile(
    r"(?<![\w.+'%-])"  # not inside a longer word
    r"((?:[\w+'-]|%2[Bb])+(?:\.(?:[\w+'-]|%2[Bb])+)*)"  # local part
    r"(?:@|%40)"
    r"((?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+([^\W\d_]{2,63}))"  # domain, and its top-level label
    r"(?![\w@-]|\.[^\W_])",
)
_E164 = re.compile(r"(?<![\w+])\+[1-9](?:[ .()-]?\d){7,14}(?![\w])")
_PHONE_VALUE = re.compile(r"\+?[\d ().\-/]{7,30}")
_PHONE_WORDS = frozenset({"phone", "tel", "telephone", "mobile", "cell", "msisdn", "fax", "whatsapp", "sms"})
_KEY_WORDS = re.compile(r"[a-z]+|[A-Z][a-z]*")
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost", "local"})  # RFC 2606/6761, mDNS
_URL_START = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:|/|\?")


@cache
def public_suffixes() -> PublicSuffixList:
    """The public suffix list shipped with ``publicsuffixlist``, parsed once (no network)."""
    return PublicSuffixList()


def _real_tld(label: str) -> bool:
    label = label.lower()
    return label in _RESERVED_TLDS or public_suffixes().publicsuffix(label, accept_unknown=False) is not None


@cache
def is_email(text: str) -> bool:
    """Whether ``text`` (trimmed) is one email address, by the rule that finds emails in free text.

    The link signer asks this of a recipient key, so "email-shaped" means the same there as in params
    and URLs; ``%40`` for the at sign counts, as it does in a URL.
    """
    return _EMAIL.fullmatch(text.strip()) is not None


def is_phone_key(key: str) -> bool:
    """Whether a param or query key names a phone number (``phone``, ``customerPhone``, ``tel``; not ``hotel``)."""
    words = [w.lower() for w in _KEY_WORDS.findall(key)]
    return any(w in _PHONE_WORDS or w.startswith(("phone", "telephone")) for w in words)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


class PersonalData:
    """Finds emails and phone numbers in strings, params and URLs; replaces each with its keyed pseudonym.

    ``found`` (a ``Counter``) gets the number of replacements by kind (``email``, ``phone``).
    """

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer

    @staticmethod
    def suspect(text: str, key: str = "") -> bool:
        """The cheap pre-check: can ``text`` hold anything ``text()`` would replace?"""
        if "@" in text or "+" in text:
            return True
        if "%" in text:
            upper = text.upper()
            if "%40" in upper or "%2B" in upper or "%254" in upper or "%252B" in upper:
                return True
        if key:
            return is_phone_key(key) and any(c.isdigit() for c in text)
        if "?" in text:  # a query key may name a phone
            lower = text.lower()
            return any(word in lower for word in _PHONE_WORDS)
        return False

    def text(self, text: str, found: Counter[str], key: str = "") -> str:
        """``text`` with its emails and phone numbers replaced (a URL's query values decoded first)."""
        if not self.suspect(text, key):
            return text
        return self._scan(text, found, key, 0)

    def value(self, value: Any, found: Counter[str], key: str = "", max_chars: int = 0) -> Any:
        """A param value of any JSON shape, strings replaced within; dicts and lists walked, other values kept.

        A string that grew (a pseudonym is longer than a short address) is cut at ``max_chars``, or at its
        own length when that was longer, so that a value within a limit before stays within it.
        """
        if isinstance(value, str):
            replaced = self.text(value, found, key)
            if max_chars and len(replaced) > max(len(value), max_chars):
                return replaced[: max(len(value), max_chars)]
            return replaced
        if isinstance(value, dict):
            return {k: self.value(v, found, str(k), max_chars) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, found, key, max_chars) for v in value]
        return value

    def _email(self, match: re.Match[str], found: Counter[str]) -> str:
        if not _real_tld(match.group(3)):
            return match.group(0)
        found["email"] += 1
        return self._pseudonymizer.email(unquote(match.group(1)) + "@" + match.group(2))

    def _phone(self, text: str, found: Counter[str]) -> str:
        found["phone"] += 1
        number = _digits(text)
        return self._pseudonymizer.pseudonym("ph", f"+{number}" if text.lstrip().startswith("+") else number)

    def _phone_value(self, text: str, found: Counter[str]) -> str | None:
        stripped = text.strip()
        if _PHONE_VALUE.fullmatch(stripped) and 7 <= len(_digits(stripped)) <= 15:
            return self._phone(stripped, found)
        return None

    def _plain(self, text: str, found: Counter[str]) -> str:
        if "@" in text or "%" in text:
            text = _EMAIL.sub(lambda m: self._email(m, found), text)
        if "+" in text:
            text = _E164.sub(lambda m: self._phone(m.group(0), found), text)
        return text

    def _scan(self, text: str, found: Counter[str], key: str, depth: int) -> str:
        if key and is_phone_key(key):
            phone = self._phone_value(text, found)
            if phone is not None:
                return phone
        if depth < 2 and "?" in text and _URL_START.match(text):
            return self._url(text, found, depth)
        return self._plain(text, found)

    def _url(self, url: str, found: Counter[str], depth: int) -> str:
        base, hash_mark, fragment = url.partition("#")
        path, _, query = base.partition("?")
        pairs = query.split("&")
        for i, pair in enumerate(pairs):
            name, equals, raw = pair.partition("=")
            if not equals:  # a bare value (``?ann@example.com``)
                pairs[i] = self._plain(pair, found)
                continue
            key = unquote(name)
            if not self.suspect(raw, key):
                continue
            decoded = unquote(raw)
            scrubbed = self._scan(decoded, found, key, depth + 1)
            if scrubbed != decoded:
                pairs[i] = f"{name}={quote(scrubbed, safe='+@')}"
        return f"{self._plain(path, found)}?{'&'.join(pairs)}{hash_mark}{self._plain(fragment, found)}"
