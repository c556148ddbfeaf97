"""Which links of an email body go through the gateway, and proof that no other byte changes."""

import re
from html import unescape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.edge.rewrite import RewriteResult, RewrittenLink, rewrite_html

PIXEL_URL = "https://gw.example/o/abc.gif"
PIXEL_STYLE = 'width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px" />'


def sign(url: str, link_id: str) -> str:
    return f"https://trk.example/c/{link_id}/"


def rewrite(html: str, *, pixel_url: str | None = None, track_unsubscribe: bool = False) -> RewriteResult:
    return rewrite_html(html, sign, pixel_url=pixel_url, track_unsubscribe=track_unsubscribe)


def pixel_tag(url: str) -> str:
    return f'<img src="{url}" {PIXEL_STYLE}'


def assert_only_hrefs_changed(source: str, result: RewriteResult, *, check_decoding: bool = True) -> None:
    """Put the original attribute value back in place of each tracked URL and compare with the source."""
    output = result.html
    if result.pixel_inserted:
        output = output.replace(pixel_tag(PIXEL_URL), "", 1)
    segments: list[str] = []
    rest = output
    for link in result.links:
        before, found, rest = rest.partition(link.tracked)  # `sign` returns URLs that need no escaping
        assert found, f"{link.tracked} missing from the output"
        segments.append(before)
    segments.append(rest)
    match = re.fullmatch("(.*?)".join(map(re.escape, segments)), source, re.DOTALL)
    assert match is not None, "bytes outside the rewritten href values changed"
    originals = match.groups()
    if check_decoding:
        for raw, link in zip(originals, result.links, strict=True):
            assert unescape(raw).strip() == link.original
    restored = segments[0] + "".join(raw + segment for raw, segment in zip(originals, segments[1:], strict=True))
    assert restored == source


def summary(result: RewriteResult) -> list[tuple[str, str]]:
    assert [link.link_id for link in result.links] == [str(n) for n in range(1, len(result.links) + 1)]
    return [(link.tag, link.original) for link in result.links]


# --- small documents, exact output ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected", "original"),
    [
        ('<a href="https://x.com/a">A</a>', '<a href="https://trk.example/c/1/">A</a>', "https://x.com/a"),
        ("<a href='https://x.com/a'>A</a>", "<a href='https://trk.example/c/1/'>A</a>", "https://x.com/a"),
        ("<a href=https://x.com/a>A</a>", "<a href=https://trk.example/c/1/>A</a>", "https://x.com/a"),
        ('<A HREF="HTTP://X.COM/A">A</A>', '<A HREF="https://trk.example/c/1/">A</A>', "HTTP://X.COM/A"),
        (
            '<a\r\n  class="b"\n\tHref = "https://x.com/a"\n  target=_blank\n>A</a>',
            '<a\r\n  class="b"\n\tHref = "https://trk.example/c/1/"\n  target=_blank\n>A</a>',
            "https://x.com/a",
        ),
        (
            '<a title="t" style="color:red" href="http://x.com/a" id=k>A</a>',
            '<a title="t" style="color:red" href="https://trk.example/c/1/" id=k>A</a>',
            "http://x.com/a",
        ),
        ('<a/href="https://x.com/a">A</a>', '<a/href="https://trk.example/c/1/">A</a>', "https://x.com/a"),
        (
            "<AREA shape=rect HREF = https://x.com/a alt=A>",
            "<AREA shape=rect HREF = https://trk.example/c/1/ alt=A>",
            "https://x.com/a",
        ),
    ],
)
def test_http_links_of_a_and_area_are_signed_whatever_the_markup_style(
    source: str, expected: str, original: str
) -> None:
    result = rewrite(source)
    assert result.html == expected
    assert [link.original for link in result.links] == [original]


def test_links_are_numbered_in_document_order_and_the_signer_sees_each_destination_once() -> None:
    calls: list[tuple[str, str]] = []

    def recording_sign(url: str, link_id: str) -> str:
        calls.append((url, link_id))
        return f"https://t.example/{link_id}"

    source = '<a href="https://b.com">b</a><a href="mailto:x@y.z">m</a><area href="https://a.com"><a href="https://b.com">b</a>'
    result = rewrite_html(source, recording_sign)
    assert calls == [("https://b.com", "1"), ("https://a.com", "2"), ("https://b.com", "3")]
    assert result.links == (
        RewrittenLink("1", "https://b.com", "https://t.example/1", "a"),
        RewrittenLink("2", "https://a.com", "https://t.example/2", "area"),
        RewrittenLink("3", "https://b.com", "https://t.example/3", "a"),
    )
    assert result.html == (
        '<a href="https://t.example/1">b</a><a href="mailto:x@y.z">m</a>'
        '<area href="https://t.example/2"><a href="https://t.example/3">b</a>'
    )


@pytest.mark.parametrize(
    ("href", "original"),
    [
        ("https://x.com/?a=1&amp;b=2", "https://x.com/?a=1&b=2"),
        ("https://x.com/caf&eacute;?a=1&#38;b=2&#x26;c=3", "https://x.com/café?a=1&b=2&c=3"),
        ("https://x.com/?a=1&b=2", "https://x.com/?a=1&b=2"),
        # Browsers keep a ";"-less reference followed by "=" or a letter literal in attributes.
        ("https://x.com/?a=1&region=eu&copy=2&amp;c=3", "https://x.com/?a=1&region=eu&copy=2&c=3"),
        ("  \n https://x.com/spaced \t ", "https://x.com/spaced"),
    ],
)
def test_the_destination_is_entity_decoded_and_trimmed_before_signing(href: str, original: str) -> None:
    result = rewrite(f'<a href="{href}">x</a>')
    assert result.html == '<a href="https://trk.example/c/1/">x</a>'
    assert result.links[0].original == original


def nasty_sign(url: str, link_id: str) -> str:
    return f'https://t.example/{link_id}?d=a&b="q"\'s'


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('<a href="http://x.com">x</a>', '<a href="https://t.example/1?d=a&amp;b=&quot;q&quot;\'s">x</a>'),
        ("<a href='http://x.com'>x</a>", "<a href='https://t.example/1?d=a&amp;b=\"q\"&#39;s'>x</a>"),
        ("<a href=http://x.com>x</a>", '<a href="https://t.example/1?d=a&amp;b=&quot;q&quot;\'s">x</a>'),
    ],
)
def test_the_tracked_url_is_escaped_for_its_quoting(source: str, expected: str) -> None:
    assert rewrite_html(source, nasty_sign).html == expected


@pytest.mark.parametrize(
    ("tracked", "expected"),
    [
        ("https://t.example/c/1/", "<a href=https://t.example/c/1/ id=k>x</a>"),
        ("https://t.example/c/1;a&b", "<a href=https://t.example/c/1;a&amp;b id=k>x</a>"),
        # "=" is one of the characters HTML does not allow in an unquoted value, like quotes and spaces.
        ("https://t.example/1?a=1&b=2", '<a href="https://t.example/1?a=1&amp;b=2" id=k>x</a>'),
        ("https://t.example/1 x", '<a href="https://t.example/1 x" id=k>x</a>'),
        ("https://t.example/`1`", '<a href="https://t.example/`1`" id=k>x</a>'),
        ("https://t.example/<1>", '<a href="https://t.example/<1>" id=k>x</a>'),
    ],
)
def test_an_unquoted_href_is_quoted_only_when_the_tracked_url_needs_it(tracked: str, expected: str) -> None:
    assert rewrite_html("<a href=http://x.com id=k>x</a>", lambda url, link_id: tracked).html == expected


@pytest.mark.parametrize(
    "href",
    [
        "mailto:help@example.com?subject=Hi",
        "MAILTO:help@example.com",
        "tel:+15551234567",
        "sms:+15551234567",
        "#top",
        "/relative/path",
        "relative.html",
        "//example.com/scheme-less",
        "www.example.com",
        "javascript:alert(1)",
        "data:text/html,hi",
        "ftp://files.example.com/a.pdf",
        "http:/one-slash.example.com",
        "",
    ],
)
def test_other_schemes_and_relative_urls_are_left_alone(href: str) -> None:
    for source in (f'<a href="{href}">x</a>', f"<area href='{href}'>"):
        result = rewrite(source)
        assert result.html == source
        assert result.links == ()


@pytest.mark.parametrize(
    "href",
    [
        "{{ view_url }}",
        "https://x.com/r/{{ref}}",
        "https://x.com/?u={% url 'profile' %}",
        "https://x.com/?e=*|EMAIL|*",
        "https://x.com/p/%%product_id%%",
        "https://x.com/[[id]]",
        "https://x.com/u/${user.id}",
        "https://x.com/?u=%7B%7Bid%7D%7D",
        "https://x.com/?e=%2A%7CEMAIL%7C%2A",
    ],
)
def test_hrefs_with_template_placeholders_are_left_alone(href: str) -> None:
    source = f'<a href="{href}">x</a>'
    assert rewrite(source).html == source


@pytest.mark.parametrize(
    "attribute", ['data-ga4gw="off"', "DATA-GA4GW='Off'", "data-ga4gw=off", 'data-ga4gw=" off "', "data-ga4gw=&#111;ff"]
)
def test_data_ga4gw_off_keeps_a_link_untouched(attribute: str) -> None:
    source = f'<a class="x" {attribute} href="https://x.com/private">x</a>'
    assert rewrite(source).html == source
    on = source.replace(attribute, 'data-ga4gw="on"')
    assert rewrite(on).html == '<a class="x" data-ga4gw="on" href="https://trk.example/c/1/">x</a>'


UNSUBSCRIBE_LINKS = [
    '<a href="https://x.com/unsubscribe?u=1">Click here</a>',
    '<a href="https://x.com/prefs?list-unsubscribe=1">here</a>',
    '<a href="https://x.com/d%C3%A9sinscription">ici</a>',
    '<a href="https://x.com/OptOut">here</a>',
    '<a href="https://x.com/bye">Unsubscribe</a>',
    '<a href="https://x.com/bye">Un<span>sub</span>scribe</a>',
    '<a href="https://x.com/bye">Vom Newsletter ABMELDEN</a>',
    '<a href="https://x.com/bye">Se d&eacute;sinscrire</a>',
    '<a href="https://x.com/bye">desinscribirse</a>',
    '<a href="https://x.com/bye">Darse\n de   baja</a>',
    '<a href="https://x.com/bye">Disiscriviti</a>',
    '<a href="https://x.com/bye">Afmelden</a>',
    '<a href="https://x.com/bye">Opt-out</a>',
    '<a data-ga4gw="unsubscribe" href="https://x.com/bye">Stop</a>',
    '<area href="https://x.com/bye" alt="Unsubscribe">',
    '<!--[if mso]><v:roundrect href="https://x.com/bye"><center>Unsubscribe</center></v:roundrect><![endif]-->',
]


@pytest.mark.parametrize("source", UNSUBSCRIBE_LINKS)
def test_unsubscribe_links_are_left_alone_by_default(source: str) -> None:
    result = rewrite(source)
    assert result.html == source
    assert result.links == ()


@pytest.mark.parametrize("source", UNSUBSCRIBE_LINKS)
def test_unsubscribe_links_are_signed_when_asked(source: str) -> None:
    result = rewrite(source, track_unsubscribe=True)
    assert len(result.links) == 1
    assert result.html == re.sub(r'href="[^"]*"', 'href="https://trk.example/c/1/"', source)


def test_subscribe_is_not_unsubscribe() -> None:
    assert rewrite('<a href="https://x.com/subscribe">Subscribe</a>').links[0].original == "https://x.com/subscribe"


@pytest.mark.parametrize("condition", ["mso", "gte mso 9", "mso | IE", "(mso)|(IE)", "!mso"])
@pytest.mark.parametrize("tag", ["v:roundrect", "v:rect", "v:shape", "v:oval", "V:RoundRect", "a"])
def test_links_inside_conditional_comments_are_signed(condition: str, tag: str) -> None:
    source = f'<!--[if {condition}]><{tag} href="https://x.com/b"><center>Go</center></{tag}><![endif]-->'
    result = rewrite(source)
    assert result.html == source.replace("https://x.com/b", "https://trk.example/c/1/")
    assert result.links == (RewrittenLink("1", "https://x.com/b", "https://trk.example/c/1/", tag.lower()),)


@pytest.mark.parametrize(
    "source",
    [
        '<!-- <a href="https://x.com/c">old</a> -->',
        '<!--<v:roundrect href="https://x.com/c"></v:roundrect>-->',
        '<!-- [if mso]> <a href="https://x.com/c">x</a> -->',
        '<!---- <a href="https://x.com/c">x</a> ---->',
    ],
)
def test_links_inside_plain_comments_are_left_alone(source: str) -> None:
    assert rewrite(source).html == source


def test_bulletproof_button_gets_one_id_for_the_vml_and_one_for_the_fallback() -> None:
    source = (
        '<!--[if mso]><v:roundrect href="https://x.com/b"><center>Go</center></v:roundrect><![endif]-->'
        '<!--[if !mso]><!-- --><a href="https://x.com/b">Go</a><!--<![endif]-->'
        '<!--[if !mso]><!--><a href="https://x.com/c">Go</a><!--<![endif]-->'
        '<![if !mso]><a href="https://x.com/d">Go</a><![endif]>'
        '<!--><a href="https://x.com/e">after an empty comment</a>'
    )
    result = rewrite(source)
    assert summary(result) == [
        ("v:roundrect", "https://x.com/b"),
        ("a", "https://x.com/b"),
        ("a", "https://x.com/c"),
        ("a", "https://x.com/d"),
        ("a", "https://x.com/e"),
    ]
    assert result.html == (
        '<!--[if mso]><v:roundrect href="https://trk.example/c/1/"><center>Go</center></v:roundrect><![endif]-->'
        '<!--[if !mso]><!-- --><a href="https://trk.example/c/2/">Go</a><!--<![endif]-->'
        '<!--[if !mso]><!--><a href="https://trk.example/c/3/">Go</a><!--<![endif]-->'
        '<![if !mso]><a href="https://trk.example/c/4/">Go</a><![endif]>'
        '<!--><a href="https://trk.example/c/5/">after an empty comment</a>'
    )


@pytest.mark.parametrize(
    "source",
    [
        '<base href="https://x.com/">',
        '<link rel="stylesheet" href="https://x.com/s.css">',
        '<img src="https://x.com/i.png">',
        '<abbr href="https://x.com/a">A</abbr>',
        '<address href="https://x.com/a">A</address>',
        '<o:p href="https://x.com/a"></o:p>',
        "<a>no href</a><a href>empty</a><a href=>empty</a><a name=top></a>",
    ],
)
def test_tags_that_are_not_links_are_left_alone(source: str) -> None:
    assert rewrite(source).html == source


@pytest.mark.parametrize(
    "element",
    [
        "<script>var s = '<a href=\"https://x.com/s\">'; if (a < b) {}</script>",
        '<SCRIPT type="text/javascript">document.write("<A HREF=http://x.com/s>")</SCRIPT >',
        '<style>a[href="https://x.com/s"] { color: red } /* <a href="https://x.com/s"> */</style>',
        '<title>News <a href="https://x.com/s">x</a></title>',
        '<textarea><a href="https://x.com/s">x</a></textarea>',
    ],
)
def test_raw_text_elements_are_not_scanned(element: str) -> None:
    result = rewrite(element + '<a href="https://x.com/after">x</a>')
    assert result.html == element + '<a href="https://trk.example/c/1/">x</a>'
    assert summary(result) == [("a", "https://x.com/after")]


def test_the_first_of_duplicate_hrefs_is_the_one_that_counts() -> None:
    assert rewrite('<a href="mailto:a@b.c" href="https://x.com">x</a>').links == ()
    result = rewrite('<a href="https://x.com/1" href="https://x.com/2">x</a>')
    assert result.html == '<a href="https://trk.example/c/1/" href="https://x.com/2">x</a>'


# --- the pixel -----------------------------------------------------------------------------------


def test_pixel_goes_right_before_the_closing_body_tag() -> None:
    result = rewrite("<html><body><p>Hi</p></body>\n</html>", pixel_url=PIXEL_URL)
    assert result.html == f"<html><body><p>Hi</p>{pixel_tag(PIXEL_URL)}</body>\n</html>"
    assert result.pixel_inserted


def test_pixel_goes_before_the_last_closing_body_tag_in_any_case() -> None:
    result = rewrite("<body>a</body><body>b</BODY >c", pixel_url=PIXEL_URL)
    assert result.html == f"<body>a</body><body>b{pixel_tag(PIXEL_URL)}</BODY >c"


@pytest.mark.parametrize("source", ["<p>no body</p>", "<p>x</p><!-- </body> -->", "<script>'</body>'</script>", ""])
def test_pixel_is_appended_when_there_is_no_closing_body_tag_in_the_markup(source: str) -> None:
    result = rewrite(source, pixel_url=PIXEL_URL)
    assert result.html == source + pixel_tag(PIXEL_URL)
    assert result.pixel_inserted


def test_pixel_url_is_attribute_escaped() -> None:
    result = rewrite("<body></body>", pixel_url='https://gw.example/o.gif?a=1&b="2"')
    assert result.html == f"<body>{pixel_tag('https://gw.example/o.gif?a=1&amp;b=&quot;2&quot;')}</body>"


@pytest.mark.parametrize(
    ("source", "pixel_url"),
    [
        (f'<body><img src="{PIXEL_URL}"></body>', PIXEL_URL),
        ('<body><img src="https://gw.example/o.gif?a=1&amp;b=2"></body>', "https://gw.example/o.gif?a=1&b=2"),
    ],
)
def test_pixel_is_not_added_twice(source: str, pixel_url: str) -> None:
    result = rewrite(source, pixel_url=pixel_url)
    assert result.html == source
    assert not result.pixel_inserted


def test_no_pixel_without_a_pixel_url() -> None:
    result = rewrite("<body></body>")
    assert result.html == "<body></body>"
    assert not result.pixel_inserted


# --- malformed input: best effort, never an exception --------------------------------------------


OK = '<a href="http://x.com">ok</a>'
SIGNED_OK = '<a href="https://trk.example/c/1/">ok</a>'


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("", ""),
        ("<", "<"),
        ("</", "</"),
        ("<!--", "<!--"),
        ("<a", "<a"),
        (OK + '<a href="http://y.com>broken', SIGNED_OK + '<a href="http://y.com>broken'),
        (OK + '<!-- <a href="http://y.com">', SIGNED_OK + '<!-- <a href="http://y.com">'),
        (OK + '<a href="http://y.com"', SIGNED_OK + '<a href="http://y.com"'),
        (OK + '<script><a href="http://y.com">', SIGNED_OK + '<script><a href="http://y.com">'),
        (OK + '<!DOCTYPE <a href="http://y.com"', SIGNED_OK + '<!DOCTYPE <a href="http://y.com"'),
        (
            '1 < 2 <3 <a href="http://x.com">no closing tag',
            '1 < 2 <3 <a href="https://trk.example/c/1/">no closing tag',
        ),
        ("<\x00a href=http://x.com>\xff\ufffd</a", "<\x00a href=http://x.com>\xff\ufffd</a"),
        ("\x00\x01<a href=http://x.com>\x00", "\x00\x01<a href=https://trk.example/c/1/>\x00"),
        ("<a\x00 href=http://x.com>", "<a\x00 href=http://x.com>"),  # the tag is "a\ufffd", not "a"
    ],
)
def test_malformed_html_is_rewritten_up_to_what_cannot_be_parsed(source: str, expected: str) -> None:
    assert rewrite(source).html == expected


# --- realistic templates: the links found, and byte identity elsewhere -----------------------------

NEWSLETTER = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0" />
<title>Spring news &amp; offers <a href="https://example.com/in-title">x</a></title>
<base href="https://example.com/" />
<link rel="stylesheet" href="https://fonts.example.com/css?family=Inter" />
<style type="text/css">
  a[href^="https://"] { color: #0b5fff; }
  .hero { background: url(https://cdn.example.com/hero.jpg); }
  /* <a href="https://example.com/in-style">not a link</a> */
</style>
</head>
<body style="margin:0;padding:0;background:#f4f4f4;">
<a name="top"></a>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">
  <tr>
    <td align="center" style="padding:12px;font-size:12px;">
      Can't read this? <a href="https://example.com/view?id=42&amp;lang=en" target="_blank">View it online</a>
    </td>
  </tr>
  <tr>
    <td align="center">
      <a href="https://example.com/?utm_source=news&amp;utm_medium=email&amp;utm_campaign=spring"><img
        src="https://cdn.example.com/logo.png" width="120" alt="Example" /></a>
    </td>
  </tr>
  <tr>
    <td style="padding:24px;font-family:Arial,sans-serif;">
      <h1>Spring is here</h1>
      <p>Read <a href="https://blog.example.com/posts/spring#intro" style="color:#0b5fff;">our story</a>
         or jump to <a href="#offers">the offers</a>.</p>
      <!-- old promo, kept for reference: <a href="https://example.com/old-promo">Old promo</a> -->
      <p><a id="offers" href="http://shop.example.com/sale?category=shoes&amp;size=42">Shoes on sale</a></p>
      <p>Questions? <a href="mailto:help@example.com?subject=Spring%20sale">Write to us</a>
         or call <a href="tel:+15551234567">+1 555 123 4567</a>.</p>
    </td>
  </tr>
  <tr>
    <td align="center" style="padding:24px;font-size:11px;color:#888;">
      <a href="https://twitter.com/example"><img src="https://cdn.example.com/tw.png" alt="Twitter" /></a>
      <a href="https://www.facebook.com/example"><img src="https://cdn.example.com/fb.png" alt="Facebook" /></a>
      <p>Example Inc., 1 Main Street, Springfield</p>
      <p><a href="https://example.com/preferences?u=42">Email preferences</a> |
         <a href="https://example.com/unsubscribe?u=42&amp;list=7">Unsubscribe</a></p>
      <p><a href="#top">Back to top</a></p>
    </td>
  </tr>
</table>
</body>
</html>
"""

MAILCHIMP = """<!doctype html>
<html>
<head><meta charset="UTF-8"><title>*|MC:SUBJECT|*</title></head>
<body>
<center>
<table align="center" border="0" cellpadding="0" cellspacing="0" width="100%" id="bodyTable">
<tr><td valign="top" id="templatePreheader">
  <a href="*|ARCHIVE|*" target="_blank">View this email in your browser</a>
</td></tr>
<tr><td valign="top" id="templateBody">
  <p>Hi *|FNAME|*,</p>
  <p><a href="https://shop.example.com/new?email=*|EMAIL|*" target="_blank">See what's new</a></p>
  <p><a href="https://shop.example.com/summer?utm_source=mc&amp;utm_campaign=*|CAMPAIGN_UID|*">Summer</a></p>
  <p><a href="https://shop.example.com/collections/winter" target="_blank">Winter collection</a></p>
  <p><a href="https://shop.example.com/r/{{ref_code}}">Refer a friend</a></p>
  <p><a href="https://shop.example.com/sale" style="color:#007C89">Sale</a></p>
</td></tr>
<tr><td valign="top" id="templateFooter">
  <em>Copyright &copy; *|CURRENT_YEAR|* *|LIST:COMPANY|*, All rights reserved.</em><br>
  *|IFNOT:ARCHIVE_PAGE|* *|LIST:DESCRIPTION|* *|END:IF|*<br>
  <a href="*|FORWARD|*">Forward to a friend</a>
  <a href="*|UPDATE_PROFILE|*">update your preferences</a> or
  <a href="*|UNSUB|*" class="utilityLink">unsubscribe from this list</a>.<br>
  <a href="https://example.us1.list-manage.com/unsubscribe?u=abc&amp;id=def">Unsubscribe</a>
  *|REWARDS|*
</td></tr>
</table>
</center>
</body>
</html>
"""

MSO_BUTTONS = """<html xmlns="http://www.w3.org/1999/xhtml" xmlns:v="urn:schemas-microsoft-com:vml">
<head>
<!--[if gte mso 9]><xml><o:OfficeDocumentSettings><o:AllowPNG/></o:OfficeDocumentSettings></xml><![endif]-->
</head>
<body>
<div><!--[if mso]>
  <v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" xmlns:w="urn:schemas-microsoft-com:office:word"
    href="https://shop.example.com/sale?src=email&amp;btn=1" style="height:40px;width:200px;"
    arcsize="10%" strokecolor="#1e3650" fill="t">
    <v:fill type="tile" src="https://cdn.example.com/bg.png" color="#556270" />
    <w:anchorlock/>
    <center style="color:#ffffff;font-family:sans-serif;font-size:13px;">Shop the sale</center>
  </v:roundrect>
<![endif]--><a href="https://shop.example.com/sale?src=email&amp;btn=1"
  style="background-color:#556270;color:#fff;display:inline-block;mso-hide:all;">Shop the sale</a></div>

<!--[if mso | IE]><table role="presentation" border="0"><tr><td><v:rect href='https://example.com/events'
  style="width:300px;height:50px;" stroke="f" fillcolor="#0b5fff"><w:anchorlock/><center>Events</center></v:rect>
</td></tr></table><![endif]-->
<!--[if !mso]><!-- -->
<a href="https://example.com/events" class="button">Events</a>
<!--<![endif]-->

<!--[if gte mso 9]>
<v:shape href=https://example.com/webinar style="width:200px;height:40px" coordsize="21600,21600">
<v:textbox inset="0,0,0,0"><center>Join the webinar</center></v:textbox></v:shape>
<![endif]-->
<!--[if !mso]><!-->
<a href="https://example.com/webinar">Join the webinar</a>
<!--<![endif]-->

<!--[if mso]><v:roundrect href="https://example.com/bye?u=1"><center>Unsubscribe</center></v:roundrect><![endif]-->
<!-- designer note: <a href="https://example.com/draft">draft button</a> -->
</body>
</html>
"""

IMAGE_MAP = """<html><body>
<p><img src="https://cdn.example.com/map.png" usemap="#shopmap" width="600" height="300" alt="Our shops"></p>
<map name="shopmap">
  <area shape="rect" coords="0,0,200,300" href="https://example.com/shops/north" alt="North">
  <AREA SHAPE=rect COORDS="200,0,400,300" HREF=https://example.com/shops/south ALT=South>
  <area shape="circle" coords="500,150,50" href='https://example.com/shops/east?x=1&amp;y=2' alt='East' />
  <area shape="default" href="mailto:shops@example.com" alt="Mail us">
  <area shape="rect" coords="0,280,100,300" href="https://example.com/optout" alt="Stop emails">
  <area shape="rect" coords="100,280,200,300" href="https://example.com/bye" alt="Abmelden">
  <area shape="rect" coords="200,280,300,300" nohref alt="Nothing">
</map>
</body></html>
"""

LEGACY_CRLF = """<HTML>
<HEAD>
<TITLE>Grüße aus Köln</TITLE>
<SCRIPT type="text/javascript">
  var html = '<a href="https://example.com/from-script">x</a>';
  if (a < b && c > d) { document.write("<A HREF='http://example.com/w'>"); }
</SCRIPT>
<STYLE>
  A:hover { color: red; } /* href="https://example.com/in-css" */
</STYLE>
</HEAD>
<BODY BGCOLOR=#FFFFFF>
<P>Grüße, 日本語のテキスト, ça va? 🎉 Ünïcödé</P>
<A HREF="https://example.de/angebote?q=schuhe&amp;größe=42">Angebote für Sie</A>
<a
   class='btn'
   href='https://example.fr/été'
   title="Été">L'été arrive</a>
<A TARGET=_blank HREF=http://example.com/plain>Plain</A>
<a href = "  https://example.com/spaced  " >spaced</a>
<a data-ga4gw="OFF" href="https://example.com/private">private</a>
<A HREF="https://example.de/abmelden">Vom Newsletter abmelden</A>
<a href="https://example.es/baja">Darse de baja</a>
<a href="ftp://files.example.com/catalog.pdf">Catalogue</a>
<a href="javascript:void(0)">JS</a>
<a href="/relative/path">relative</a>
<a href="www.example.com/no-scheme">no scheme</a>
<a href="sms:+15551234567">SMS</a>
</BODY>
</HTML>
""".replace("\n", "\r\n")

TEMPLATES = {
    "newsletter": (
        NEWSLETTER,
        [
            ("a", "https://example.com/view?id=42&lang=en"),
            ("a", "https://example.com/?utm_source=news&utm_medium=email&utm_campaign=spring"),
            ("a", "https://blog.example.com/posts/spring#intro"),
            ("a", "http://shop.example.com/sale?category=shoes&size=42"),
            ("a", "https://twitter.com/example"),
            ("a", "https://www.facebook.com/example"),
            ("a", "https://example.com/preferences?u=42"),
        ],
    ),
    "mailchimp": (
        MAILCHIMP,
        [("a", "https://shop.example.com/collections/winter"), ("a", "https://shop.example.com/sale")],
    ),
    "mso-buttons": (
        MSO_BUTTONS,
        [
            ("v:roundrect", "https://shop.example.com/sale?src=email&btn=1"),
            ("a", "https://shop.example.com/sale?src=email&btn=1"),
            ("v:rect", "https://example.com/events"),
            ("a", "https://example.com/events"),
            ("v:shape", "https://example.com/webinar"),
            ("a", "https://example.com/webinar"),
        ],
    ),
    "image-map": (
        IMAGE_MAP,
        [
            ("area", "https://example.com/shops/north"),
            ("area", "https://example.com/shops/south"),
            ("area", "https://example.com/shops/east?x=1&y=2"),
        ],
    ),
    "legacy-crlf": (
        LEGACY_CRLF,
        [
            ("a", "https://example.de/angebote?q=schuhe&größe=42"),
            ("a", "https://example.fr/été"),
            ("a", "http://example.com/plain"),
            ("a", "https://example.com/spaced"),
        ],
    ),
}


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_get_exactly_their_trackable_links_signed_and_nothing_else_changes(name: str) -> None:
    source, expected = TEMPLATES[name]
    result = rewrite(source, pixel_url=PIXEL_URL)
    assert summary(result) == expected
    assert result.pixel_inserted
    assert f"{pixel_tag(PIXEL_URL)}</{'BODY' if name == 'legacy-crlf' else 'body'}>" in result.html
    assert_only_hrefs_changed(source, result)


def test_mailchimp_unsubscribe_is_signed_when_asked_but_merge_tags_never_are() -> None:
    result = rewrite(MAILCHIMP, track_unsubscribe=True)
    assert summary(result)[-1] == ("a", "https://example.us1.list-manage.com/unsubscribe?u=abc&id=def")
    assert len(result.links) == 3
    assert '<a href="*|UNSUB|*" class="utilityLink">' in result.html
    assert_only_hrefs_changed(MAILCHIMP, result)


# --- properties ----------------------------------------------------------------------------------

MARKUP_CHARS = st.sampled_from(list("<>!-/=\"' \n\r\t&;#[]|{}%*$:.?ahrefvisomgxlcpt-AHREFV0123456789é"))
ARBITRARY = (
    st.text()
    | st.text(MARKUP_CHARS, max_size=300)
    | st.binary(max_size=300).map(lambda data: data.decode("latin-1"))
    | st.lists(
        st.sampled_from(["<a href=", "http://x.com", '"', "'", ">", "<!--", "-->", "<!--[if mso]>", "</a>", " "])
    ).map("".join)
)


@settings(max_examples=300, deadline=None)
@given(ARBITRARY, st.booleans())
def test_arbitrary_text_never_raises_and_only_href_values_change(source: str, track_unsubscribe: bool) -> None:
    result = rewrite(source, pixel_url=PIXEL_URL, track_unsubscribe=track_unsubscribe)
    assert result.pixel_inserted == (PIXEL_URL not in source)
    assert_only_hrefs_changed(source, result, check_decoding=False)


TEXT = st.text(st.sampled_from(list("xyz0123456789 .,!?éü漢🎉\r\n")), max_size=12)
GAP = st.sampled_from([" ", "\n  ", "\r\n\t", "  "])
SCHEMES = ["http://", "https://", "HTTP://", "HtTpS://", "mailto:", "tel:", "sms:", "ftp://", "javascript:", "data:"]


@st.composite
def hrefs(draw: st.DrawFn, quoted: bool) -> tuple[str, str, bool]:
    """An href as written (raw), the destination it means, and whether it must be signed."""
    scheme = draw(st.sampled_from([*SCHEMES, "#", "/", "//", ""]))
    host = draw(st.sampled_from(["example.com", "shop.example.de", "a.io", "xn--bcher-kva.example"]))
    path = draw(st.from_regex(r"(/[a-fA-F0-9._~é]{0,6}){0,3}", fullmatch=True))
    params = draw(st.lists(st.sampled_from(["utm_source=mail", "id=42", "q=shoes", "lang=de"]), max_size=3))
    amp = draw(st.sampled_from(["&amp;", "&#38;", "&#x26;", "&"]))
    destination = scheme + host + path + ("?" + "&".join(params) if params else "")
    raw = scheme + host + path + ("?" + amp.join(params) if params else "")
    if quoted:
        raw = draw(st.sampled_from(["", " ", "\n "])) + raw + draw(st.sampled_from(["", " ", "\t"]))
    return raw, destination, scheme.lower() in ("http://", "https://")


@st.composite
def link_elements(draw: st.DrawFn, names: list[str]) -> tuple[str, tuple[str, str] | None]:
    """A link tag in any markup style, and the (tag, destination) it must produce if signed."""
    name = draw(st.sampled_from(names))
    quote = draw(st.sampled_from(['"', "'", ""]))
    raw, destination, trackable = draw(hrefs(quoted=bool(quote)))
    href = draw(st.sampled_from(["href", "HREF", "Href"])) + draw(st.sampled_from(["=", " = ", "\n=\n"]))
    others = draw(st.lists(st.sampled_from(['class="btn"', "style='color:red'", "target=_blank", "data-x"])))
    split = draw(st.integers(0, len(others)))
    attrs = [*others[:split], href + quote + raw + quote, *others[split:]]
    tag = "<" + name + "".join(draw(GAP) + attr for attr in attrs)
    if name.lower() == "area":
        tag += draw(st.sampled_from([">", " />"]))
    else:
        tag += draw(st.sampled_from([">", "\n>"])) + draw(TEXT) + f"</{name}>"
    return tag, ((name.lower(), destination) if trackable else None)


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """A document from random segments, and the links that must be signed, in order."""
    parts: list[str] = []
    expected: list[tuple[str, str]] = []
    html_link = link_elements(["a", "A", "area", "AREA"])
    for kind in draw(st.lists(st.sampled_from(["text", "link", "comment", "mso", "fallback", "raw", "other"]))):
        if kind == "text":
            parts.append(draw(TEXT))
        elif kind in ("link", "comment", "fallback"):
            markup, signed = draw(html_link)
            if kind == "comment":
                markup = draw(st.sampled_from(["<!--", "<!-- "])) + markup + draw(st.sampled_from(["-->", " -->"]))
            elif kind == "fallback":
                opener = draw(st.sampled_from(["<!--[if !mso]><!-- -->", "<!--[if !mso]><!-->"]))
                markup = opener + markup + "<!--<![endif]-->"
            parts.append(markup)
            if signed and kind != "comment":
                expected.append(signed)
        elif kind == "mso":
            markup, signed = draw(link_elements(["v:roundrect", "v:rect", "V:Shape", "a"]))
            condition = draw(st.sampled_from(["mso", "gte mso 9", "mso | IE"]))
            parts.append(f"<!--[if {condition}]>{draw(GAP)}{markup}{draw(GAP)}<![endif]-->")
            expected += [signed] if signed else []
        elif kind == "raw":
            markup, _ = draw(html_link)
            parts.append(draw(st.sampled_from(["<style>{}</style>", "<script>'{}'</script>", "<title>{}</title>"])))
            parts[-1] = parts[-1].format(markup)
        else:
            parts.append(draw(st.sampled_from(['<base href="https://x.com/">', "<img src=https://x.com/i.png>"])))
    return "".join(parts), expected


@settings(max_examples=300, deadline=None)
@given(documents())
def test_generated_documents_get_exactly_their_http_links_outside_plain_comments_signed(
    document: tuple[str, list[tuple[str, str]]],
) -> None:
    source, expected = document
    result = rewrite(source)
    assert summary(result) == expected
    assert_only_hrefs_changed(source, result)
