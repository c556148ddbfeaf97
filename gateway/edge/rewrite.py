"""Route the links of an email's HTML body through the tracking gateway and add the open pixel.

A scanner, not a parser: parsers re-serialise the document, and email clients are picky about the
bytes they get (MSO conditional comments, VML, odd whitespace). Only the ``href`` values that are
rewritten change; every other byte of the input is kept as it was.

What is rewritten: the ``href`` of ``<a>``, ``<area>`` and of any VML element (``<v:roundrect>``,
``<v:rect>``, ``<v:shape>``...) when it is an absolute http(s) URL. The markup inside MSO conditional
comments (``<!--[if mso]> ... <![endif]-->``) is scanned like ordinary markup, because Outlook renders
it; this is where bulletproof buttons keep their VML link. Plain comments, declarations and the
contents of ``<script>``, ``<style>``, ``<title>``, ``<textarea>`` and ``<xmp>`` are skipped.
The href is entity-decoded (as a browser does in an attribute) and trimmed before it is signed, and
the tracked URL is escaped for the quoting of the attribute it replaces.

What is left alone: other schemes (``mailto:``, ``tel:``, ``javascript:``...), ``#anchors``, relative
URLs, hrefs holding a template placeholder of any common dialect (``{{..}}``, ``{%..%}``, ``*|..|*``,
``%%..%%``, ``[[..]]``, ``${..}``, ``<%..%>``, ``<?..?>``, ``@name@``, and ``[..]`` when not right after a letter or
digit, so that PHP-style ``?filter[color]=red`` and IPv6 hosts are not taken for one; also percent-encoded),
tags with ``data-ga4gw="off"``, ``<base href>`` and every other tag. Links the signer refuses (``http://``
with no host, an invalid IPv6 literal, a destination outside ``GA4GW_LINK_DESTINATIONS``...) are left
alone too. Every ``href`` of an ``<a>``, ``<area>`` or VML element that is left alone is listed in
``RewriteResult.untracked`` with its reason, so the sender sees what will not be counted.

Unsubscribe links are left alone unless ``track_unsubscribe=True``: a click there must not count as
engagement, and unsubscribing must keep working even when the gateway is down. A link is taken for one when the tag
has ``data-ga4gw="unsubscribe"``, or when its href (raw or percent-decoded) or its visible text
(the text up to the closing tag, or ``alt`` for ``<area>``) contains, ignoring case, one of
"unsubscribe", "list-unsubscribe", "abmelden", "afmelden", "désinscri", "desinscri",
"darse de baja", "disiscriv", "opt-out" or "optout".

Nothing raises on any input (a signer's ``ValueError`` included): the scan stops at the first
unterminated tag, comment or raw-text element and leaves the rest of the document untouched.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from html import unescape
from html.entities import html5
from urllib.parse import unquote

__all__ = ["RewriteResult", "RewrittenLink", "UntrackedLink", "rewrite_html"]


@dataclass(frozen=True)
class RewrittenLink:
    """One ``href`` the rewriter replaced."""

    link_id: str  # "1", "2", ... in document order
    original: str  # the destination after entity decoding, as given to the signer
    tracked: str  # what the signer returned
    tag: str  # lower-cased tag name: "a", "area", "v:roundrect"...


@dataclass(frozen=True)
class UntrackedLink:
    """One ``href`` the rewriter left byte for byte, and why."""

    url: str  # the href after entity decoding and trimming
    tag: str
    reason: str  # "placeholder", "not-http", "opted-out", "unsubscribe" or "refused"
    detail: str = ""  # for "refused": the signer's reason


@dataclass(frozen=True)
class RewriteResult:
    html: str
    links: tuple[RewrittenLink, ...]
    pixel_inserted: bool
    untracked: tuple[UntrackedLink, ...] = ()


_WS = "\t\n\f\r "  # HTML whitespace; str.isspace() would also take \xa0 and friends
_URL_TRIM = "".join(map(chr, range(0x21)))  # the URL standard strips leading/trailing C0 controls and space
_HTTP = re.compile(r"https?://", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"\{\{.*?\}\}|\{%.*?%\}|\*\|.*?\|\*|%%.*?%%|\[\[.*?\]\]|\$\{.*?\}"  # Jinja/Liquid/Handlebars, Mailchimp, ...
    r"|<%.*?%>"  # JSP, ERB, ASP
    r"|<\?.*?\?>"  # PHP: "<?php echo $url ?>", "<?= $id ?>"
    r"|@[A-Za-z_][\w.]*@"  # "@url@" of PHP shop systems
    # "[webversion]", but neither an IPv6 host nor PHP's "a[b]"
    r"|(?<![^\W_])\[(?![0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%(?:25)?\w+)?\])[^\[\]]+\]",
    re.DOTALL,
)
_UNSUBSCRIBE_WORDS = (
    "unsubscribe",
    "list-unsubscribe",
    "abmelden",
    "afmelden",
    "désinscri",
    "desinscri",
    "darse de baja",
    "disiscriv",
    "opt-out",
    "optout",
)
_CONDITIONAL_OPEN = re.compile(r"<!--\[if\b[^\]>]*\]>", re.IGNORECASE)
_TAG_NAME = re.compile(r"[A-Za-z][^\t\n\f\r />]*")
_ATTR_GAP = re.compile(r"[\t\n\f\r /]*")
_ATTR_NAME = re.compile(r"[^\t\n\f\r />][^\t\n\f\r />=]*")
_EQUALS = re.compile(r"[\t\n\f\r ]*=[\t\n\f\r ]*")
_UNQUOTED = re.compile(r"[^\t\n\f\r >]*")
_NOT_UNQUOTABLE = re.compile(r"[\t\n\f\r \"'=<>`]")
_BARE_REF = re.compile(r"&([A-Za-z][A-Za-z0-9]*)(?![A-Za-z0-9;])")
_INNER_MARKUP = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_RAW_TEXT = frozenset({"script", "style", "title", "textarea", "xmp"})
_PIXEL = '<img src="{}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px" />'


@dataclass(frozen=True)
class _Attr:
    name: str  # lower-cased
    start: int  # span of the value in the document, quotes excluded
    end: int
    quote: str  # '"', "'" or "" when unquoted or valueless


@dataclass(frozen=True)
class _Tag:
    name: str  # lower-cased
    start: int  # span of the whole tag, "<" to ">"
    end: int
    attrs: tuple[_Attr, ...]
    closing: bool


def rewrite_html(
    html: str,
    sign: Callable[[str, str], str],
    *,
    pixel_url: str | None = None,
    track_unsubscribe: bool = False,
) -> RewriteResult:
    """Replace each trackable link with ``sign(destination, link_id)`` and add the open pixel.

    The pixel goes right before the last ``</body>`` seen as markup, or at the end when there is
    none, and is not added when ``pixel_url`` already occurs in the document.
    """
    edits: list[tuple[int, int, str]] = []
    links: list[RewrittenLink] = []
    untracked: list[UntrackedLink] = []
    body_close: int | None = None
    for tag in _tags(html):
        if tag.closing:
            if tag.name == "body":
                body_close = tag.start
            continue
        if tag.name not in ("a", "area") and not tag.name.startswith("v:"):
            continue
        href = _first(tag.attrs, "href")
        if href is None:
            continue
        url = _decode_attr(html[href.start : href.end]).strip(_URL_TRIM)
        if reason := _untrackable(html, tag, url, track_unsubscribe):
            untracked.append(UntrackedLink(url, tag.name, reason))
            continue
        link_id = str(len(links) + 1)
        try:
            tracked = sign(url, link_id)
        except ValueError as exc:  # the signer refuses it: too long, no host, outside GA4GW_LINK_DESTINATIONS
            untracked.append(UntrackedLink(url, tag.name, "refused", str(exc)))
            continue
        edits.append((href.start, href.end, _escape_attr(tracked, href.quote)))
        links.append(RewrittenLink(link_id, url, tracked, tag.name))

    pixel_inserted = False
    if pixel_url is not None:
        escaped = _escape_attr(pixel_url, '"')
        if pixel_url not in html and escaped not in html:
            at = len(html) if body_close is None else body_close
            edits.append((at, at, _PIXEL.format(escaped)))
            pixel_inserted = True
    return RewriteResult(_apply(html, edits), tuple(links), pixel_inserted, tuple(untracked))


def _tags(html: str) -> Iterator[_Tag]:
    """Yield the tags a mail client treats as markup, in document order.

    A conditional comment opener is skipped on its own so that the markup inside it is seen, while
    a plain comment is skipped whole. Stops at the first construct that never ends.
    """
    pos = 0
    while (lt := html.find("<", pos)) >= 0:
        if html.startswith("<!--", lt):
            conditional = _CONDITIONAL_OPEN.match(html, lt)
            if conditional:
                pos = conditional.end()
                continue
            close = html.find("-->", lt + 2)  # from lt + 2 so that "<!-->" closes itself, as in browsers
            if close < 0:
                return
            pos = close + 3
        elif html.startswith(("<!", "<?", "</"), lt):
            close = html.find(">", lt)
            if close < 0:
                return
            name = _TAG_NAME.match(html, lt + 2)
            if html[lt + 1] == "/" and name:
                yield _Tag(name.group().lower(), lt, close + 1, (), closing=True)
            pos = close + 1
        elif name := _TAG_NAME.match(html, lt + 1):
            parsed = _parse_attrs(html, name.end())
            if parsed is None:
                return
            attrs, end = parsed
            tag = _Tag(name.group().lower(), lt, end, attrs, closing=False)
            yield tag
            pos = end
            if tag.name in _RAW_TEXT:
                raw_end = _end_tag(tag.name).search(html, end)
                if raw_end is None:
                    return
                pos = raw_end.start()
        else:
            pos = lt + 1  # a lone "<" is text


def _parse_attrs(html: str, pos: int) -> tuple[tuple[_Attr, ...], int] | None:
    """Read attributes up to the ``>`` that ends the tag, as the HTML tokenizer does.

    Returns the attributes and the index after ``>``, or None when the tag or a quoted value never ends.
    """
    attrs: list[_Attr] = []
    while True:
        pos = _match_end(_ATTR_GAP, html, pos)
        if pos >= len(html):
            return None
        if html[pos] == ">":
            return tuple(attrs), pos + 1
        name_end = _match_end(_ATTR_NAME, html, pos)
        name = html[pos:name_end].lower()
        value_start = _match_end(_EQUALS, html, name_end)
        if value_start == name_end:
            attrs.append(_Attr(name, name_end, name_end, ""))
            pos = name_end
        elif html.startswith(('"', "'"), value_start):
            quote = html[value_start]
            close = html.find(quote, value_start + 1)
            if close < 0:
                return None
            attrs.append(_Attr(name, value_start + 1, close, quote))
            pos = close + 1
        else:
            pos = _match_end(_UNQUOTED, html, value_start)
            attrs.append(_Attr(name, value_start, pos, ""))


def _untrackable(html: str, tag: _Tag, url: str, track_unsubscribe: bool) -> str:
    """Why the link is left alone, or "" when it is to be signed."""
    switch = _attr_text(html, tag, "data-ga4gw").strip(_WS).lower()
    if switch == "off":
        return "opted-out"
    if _has_placeholder(url):
        return "placeholder"
    if not _HTTP.match(url):
        return "not-http"
    if track_unsubscribe:
        return ""
    if switch == "unsubscribe" or _mentions_unsubscribe(url, _visible_text(html, tag)):
        return "unsubscribe"
    return ""


def _has_placeholder(url: str) -> bool:
    # ESPs sometimes percent-encode merge tags ("%7B%7Bid%7D%7D"); those must stay untouched as well.
    return bool(_PLACEHOLDER.search(url) or _PLACEHOLDER.search(unquote(url)))


def _mentions_unsubscribe(url: str, text: str) -> bool:
    haystack = " ".join(f"{url} {unquote(url)} {text}".split()).casefold()
    return any(word in haystack for word in _UNSUBSCRIBE_WORDS)


def _visible_text(html: str, tag: _Tag) -> str:
    """Text between the tag and its closing tag, or ``alt`` for the void ``<area>``."""
    if tag.name == "area":
        return _attr_text(html, tag, "alt")
    close = _end_tag(tag.name).search(html, tag.end)
    if close is None:
        return ""
    return unescape(_INNER_MARKUP.sub("", html[tag.end : close.start()]))


def _attr_text(html: str, tag: _Tag, name: str) -> str:
    attr = _first(tag.attrs, name)
    return "" if attr is None else _decode_attr(html[attr.start : attr.end])


def _decode_attr(value: str) -> str:
    """``html.unescape`` with the attribute rule browsers apply to references lacking their ";".

    Such a reference is decoded only when it is a whole legacy name not followed by "=": "?a=1&region=eu"
    keeps "&region", which plain ``html.unescape`` turns into "®ion", changing the destination.
    """

    def keep_or_decode(ref: re.Match[str]) -> str:
        decoded = ref.group(1) in html5 and not value.startswith("=", ref.end())
        return ref.group() if decoded else "&amp;" + ref.group(1)

    return unescape(_BARE_REF.sub(keep_or_decode, value))


def _first(attrs: tuple[_Attr, ...], name: str) -> _Attr | None:
    # Browsers keep the first of duplicated attributes and drop the others.
    return next((attr for attr in attrs if attr.name == name), None)


def _escape_attr(value: str, quote: str) -> str:
    """Escape ``value`` for an attribute written with ``quote``; quote it if it cannot stay unquoted."""
    value = value.replace("&", "&amp;")
    if quote == "'":
        return value.replace("'", "&#39;")
    if quote == "" and value and not _NOT_UNQUOTABLE.search(value):
        return value
    escaped = value.replace('"', "&quot;")
    return escaped if quote == '"' else f'"{escaped}"'


@lru_cache(maxsize=64)
def _end_tag(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{re.escape(name)}(?=[\t\n\f\r />]|$)", re.IGNORECASE)


def _match_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    match = pattern.match(text, pos)
    return pos if match is None else match.end()


def _apply(html: str, edits: list[tuple[int, int, str]]) -> str:
    parts: list[str] = []
    pos = 0
    for start, end, text in sorted(edits, key=lambda edit: edit[0]):
        parts += (html[pos:start], text)
        pos = end
    parts.append(html[pos:])
    return "".join(parts)
