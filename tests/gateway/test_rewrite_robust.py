"""The rewriter on real-world input never raises, and changes nothing but the links it tracks (issue 13).

Found 2: ``href="http://"`` (Campaign Monitor's button default) made the signer raise, and with it
``ga4gw rewrite`` and ``POST /v1/links``. Found 5: placeholders of other dialects were signed as links.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config.keys import Keyring
from gateway.edge.links import LinkSigner, LinkToken, TokenKind, destination_problem
from gateway.edge.rewrite import RewriteResult, rewrite_html
from identity import Pseudonymizer

TEMPLATES = Path(__file__).parents[1] / "data" / "email_templates"
_SIGNER = LinkSigner(Keyring((("k1", "s" * 32),)), "https://t.example", Pseudonymizer([("p1", "q" * 32)]))
_UNQUOTED_END = re.compile(r"[\t\n\f\r >]")
_GITHUB_BLOB = re.compile(r"https://github\.com/([^/]+/[^/]+)/blob/[0-9a-f]{40}/.+")
_PERMISSIVE = ("MIT", "Apache-2.0", "BSD-", "CC0", "CC BY")


def _sign(url: str, link_id: str) -> str:
    return _SIGNER.click_url(LinkToken(TokenKind.CLICK, "c1", "sub-1", link_id, url))


def _rewrite(html: str) -> RewriteResult:
    return rewrite_html(html, _sign)


def _check_only_links_changed(source: str, result: RewriteResult) -> None:
    """Outside the tracked hrefs every byte is the input's; each tracked link carries its destination."""
    out, pos_in, pos_out = result.html, 0, 0
    for link in result.links:
        at = out.index(link.tracked, pos_out)  # a tracked URL needs no escaping, in any quoting
        chunk = out[pos_out:at]
        assert source[pos_in : pos_in + len(chunk)] == chunk
        pos_in += len(chunk)
        quote = out[at - 1]
        if quote in "\"'" and source[pos_in - 1] == quote:
            pos_in = source.index(quote, pos_in)
        else:
            end = _UNQUOTED_END.search(source, pos_in)
            pos_in = len(source) if end is None else end.start()
        pos_out = at + len(link.tracked)
        token = _SIGNER.verify(TokenKind.CLICK, link.tracked.rsplit("/", 1)[1])
        assert token.url == link.original
        assert destination_problem(link.original) is None
    assert source[pos_in:] == out[pos_out:]


@pytest.mark.parametrize("href", ["http://", "HTTP://", "https://", "https://[::1/", "https://user@/"])
def test_a_link_the_signer_refuses_is_left_and_counted(href: str) -> None:
    html = f'<p><a href="{href}" class="button">Shop now</a> <a href="https://shop.example/ok">ok</a></p>'
    result = _rewrite(html)
    assert f'<a href="{href}" class="button">Shop now</a>' in result.html
    assert [link.original for link in result.links] == ["https://shop.example/ok"]
    (untracked,) = result.untracked
    assert (untracked.url, untracked.reason) == (href, "refused")
    assert "cannot be signed" in untracked.detail


@pytest.mark.parametrize(
    "href",
    [
        "https://shop.example/{{ product.url }}",
        "https://shop.example/?id={% raw %}x{% endraw %}",
        "https://shop.example/*|UNIQID|*",
        "https://shop.example/%%view_email_url%%",
        "https://shop.example/<%= user.id %>",
        "https://shop.example/&lt;%= link %&gt;",
        "https://shop.example/@url@",
        "@url@",
        "https://shop.example/?u=[webversion]",
        "[unsubscribe]",
        "https://shop.example/${link}",
        "https://shop.example/[[link]]",
        "https://shop.example/%7B%7Bid%7D%7D",
        "https://shop.example/p?id=<?php echo $id; ?>",
        "https://<?= $domain ?>/account",
        "https://shop.example/?u=&lt;?= $u ?&gt;",
        "https://shop.example/?u=%3C%3F%3D%24u%3F%3E",
    ],
)
def test_placeholders_of_every_dialect_are_left_and_counted(href: str) -> None:
    html = f"<a href='{href}'>x</a>"
    result = _rewrite(html)
    assert result.html == html
    assert [link.reason for link in result.untracked] == ["placeholder"]


@pytest.mark.parametrize(
    "href", ["https://[2001:db8::1]/a", "https://shop.example/?filter[color]=red&ids[]=1", "https://a.example/?e=x@y.z"]
)
def test_brackets_and_at_signs_that_are_no_placeholders_are_tracked(href: str) -> None:
    assert [link.original for link in _rewrite(f'<a href="{href}">x</a>').links] == [href]


def test_other_untracked_links_say_why() -> None:
    html = (
        '<a href="mailto:a@b.example">m</a><a href="#top">t</a><a data-ga4gw="off" href="https://x.example/">o</a>'
        '<a href="https://x.example/u">Unsubscribe</a>'
    )
    reasons = [link.reason for link in _rewrite(html).untracked]
    assert reasons == ["not-http", "not-http", "opted-out", "unsubscribe"]


_FRAGMENTS = st.sampled_from(
    [
        "<a ", "<a href=", "<A HREF='", "<area href=", "<v:roundrect href=\"", "</a>", ">", "<", "\"", "'", " ",
        "http://", "HTTP://", "https://", "Https://", "shop.example", "[::1]", "[::1", "@", ":8080", "/p", "?q=1",
        "&amp;", "&", "&#x", "&lt;", "#frag", "{{", "}}", "{%", "%}", "*|", "|*", "%%", "<%=", "%>", "${", "}",
        "[", "]", "\x00", "\x1f", "\u00a0", "é", "\ud800", "<!--", "-->", "<!--[if mso]>", "<![endif]-->",
        "<script>", "</script>", "<style>", "</body>", "data-ga4gw=off ", "unsubscribe", "mailto:x@y.z", "\n",
    ]
)  # fmt: skip


_URL_PIECES = st.sampled_from(
    [
        "http://", "HTTPS://", "Https://", "shop.example", "bücher.example", "[::1]", "[::1", "@", ":8080", "/p",
        "?q=1", "&amp;", "&", "&region=eu", "#f", "{{x}}", "<%= u %>", "@url@", "[webversion]", "%41", "é", " ",
        "\x00", "&#10;",
    ]
)  # fmt: skip
_LINKS = st.tuples(
    st.sampled_from(['<a href="', "<a href='", "<A HREF=", '<area alt="x" href="', '<v:roundrect href="']),
    st.tuples(
        st.sampled_from(["http://", "HTTPS://", "Https://", "", "mailto:"]),
        st.sampled_from(["shop.example", "bücher.example", "[::1]", "[::1", "", "user@shop.example"]),
        st.lists(_URL_PIECES, max_size=4).map("".join),
    ).map("".join),
    st.sampled_from(['">go</a>', "'>Shop</a>", " >x", '"/>']),
).map("".join)


@settings(max_examples=300, deadline=None)
@given(html=st.one_of(st.lists(_LINKS | _FRAGMENTS, max_size=30).map("".join), st.text(max_size=200)))
def test_the_rewriter_never_raises_and_changes_only_tracked_links(html: str) -> None:
    result = _rewrite(html)
    _check_only_links_changed(html, result)


def _templates() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((TEMPLATES / "index.json").read_text())
    return entries


@pytest.mark.parametrize("entry", _templates(), ids=lambda e: e["file"])
def test_public_templates_rewrite_without_raising_and_change_only_links(entry: dict[str, Any]) -> None:
    """Each template's links, counted by reading it (index.json "expect"), are what the rewriter tracks and leaves."""
    html = (TEMPLATES / entry["file"]).read_bytes().decode("utf-8", errors="surrogateescape")
    result = _rewrite(html)
    _check_only_links_changed(html, result)
    assert len(result.links) + len(result.untracked) >= 1, "a template in the corpus should have links"
    assert len(result.links) == entry["expect"]["tracked"]
    assert Counter(link.reason for link in result.untracked) == Counter(entry["expect"]["untracked"])


def test_the_corpus_names_source_licence_and_commit_of_every_file() -> None:
    entries = _templates()
    files = {path.name for path in TEMPLATES.iterdir() if path.name not in ("index.json", "SOURCES.md")}
    assert files == {entry["file"] for entry in entries}
    sources_md = (TEMPLATES / "SOURCES.md").read_text()
    for entry in entries:
        assert _GITHUB_BLOB.match(entry["source"]), entry["source"]
        assert entry["licence"].startswith(_PERMISSIVE), entry["licence"]
        assert entry["file"] in sources_md
        assert entry["source"].split("/blob/")[1][:7] in sources_md  # the commit it was taken at


def test_the_corpus_is_as_broad_as_the_issue_asks() -> None:
    """Issue 13: 36 public templates from at least 15 repositories, a mix of plain HTML and templating dialects."""
    entries = _templates()
    repositories = {_GITHUB_BLOB.match(entry["source"]).group(1) for entry in entries}  # type: ignore[union-attr]
    dialects = {dialect for entry in entries for dialect in entry["placeholder_dialects"]}
    assert len(entries) >= 36
    assert len(repositories) >= 15
    assert {"{{ }}", "{% %}", "*| |*", "<% %>", "[ ]", "${ }"} <= dialects
    assert any(entry["expect"]["untracked"].get("refused") for entry in entries)  # href="http://" buttons
