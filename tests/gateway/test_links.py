from __future__ import annotations

import base64
import time
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config.keys import Keyring
from gateway.edge.links import BadToken, LinkSigner, LinkToken, Mode, TokenKind
from identity import Pseudonymizer

OLD = ("old", "o" * 40)
NEW = ("new", "n" * 40)
PSEUDO = Pseudonymizer([("p1", "p" * 40)])


def _signer(*keys: tuple[str, str]) -> LinkSigner:
    return LinkSigner(Keyring(keys or (NEW,)), "https://t.shop.example", PSEUDO)


TOKEN = LinkToken(
    kind=TokenKind.CLICK, campaign_id="spring-2026", recipient="sub-123456", link_id="3",
    url="https://shop.example.com/products/blue-shirt-organic?size=m&color=navy#details", variant="A",
    sent_at=1_763_800_000, mode=Mode.IDENTIFIED, expires_at=1_790_000_000,
)  # fmt: skip


def test_every_field_round_trips() -> None:
    signer = _signer()
    decoded = signer.verify(TokenKind.CLICK, signer.sign(TOKEN))
    assert decoded == replace(TOKEN, key_id="new")
    assert decoded.sent_time is not None
    assert decoded.sent_time.timestamp() == 1_763_800_000


def test_the_newest_key_signs_and_every_key_verifies() -> None:
    old_token = _signer(OLD).sign(TOKEN)
    rotated = _signer(NEW, OLD)
    assert rotated.verify(TokenKind.CLICK, old_token).key_id == "old"
    assert rotated.sign(TOKEN).startswith("new.")
    with pytest.raises(BadToken):
        _signer(NEW).verify(TokenKind.CLICK, old_token)  # the old key was removed


def test_opens_and_clicks_cannot_be_swapped() -> None:
    signer = _signer()
    click = signer.sign(TOKEN)
    with pytest.raises(BadToken):
        signer.verify(TokenKind.OPEN, click)


@given(st.data())
def test_any_tampering_is_detected(data: st.DataObject) -> None:
    token = _signer().sign(TOKEN)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"))
    tampered = token[:position] + replacement + token[position + 1 :]
    if tampered == token:
        return
    try:
        decoded = _signer().verify(TokenKind.CLICK, tampered)
    except BadToken:
        return
    # base64 padding bits can change without changing the bytes: then nothing changed at all.
    assert decoded == replace(TOKEN, key_id="new")


@given(st.text(max_size=300))
def test_garbage_never_raises_anything_but_bad_token(text: str) -> None:
    with pytest.raises(BadToken):
        _signer().verify(TokenKind.CLICK, text)


def test_expiry() -> None:
    assert TOKEN.expired(1_790_000_000)
    assert not TOKEN.expired(1_789_999_999)
    assert not replace(TOKEN, expires_at=0).expired(time.time())


def test_an_email_is_never_readable_in_the_token() -> None:
    signer = _signer()
    fields = signer.recipient_fields(Mode.PSEUDONYMOUS, email="Jane.Doe@example.com")
    token = signer.sign(replace(TOKEN, recipient=fields["recipient"]))
    payload = token.split(".")[1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert "jane" not in raw.lower()
    assert fields["recipient"] in raw
    both = signer.recipient_fields(Mode.PSEUDONYMOUS, recipient="sub-1", email="jane@example.com")
    assert both == {"recipient": "sub-1", "email_pseudonym": PSEUDO.email("jane@example.com")}


def test_anonymous_mode_carries_no_recipient() -> None:
    signer = _signer()
    assert signer.recipient_fields(Mode.ANONYMOUS, recipient="sub-1", email="a@b.example") == {"recipient": ""}


@pytest.mark.parametrize("url", ["/relative", "javascript:alert(1)", "ftp://x/y", "https://"])
def test_only_absolute_http_destinations_can_be_signed(url: str) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        _signer().sign(replace(TOKEN, url=url))


def test_a_typical_click_url_stays_short() -> None:
    destination = "https://shop.example.com/collections/summer/linen-shirt?c=bl"
    assert len(destination) == 60
    token = LinkToken(
        kind=TokenKind.CLICK, campaign_id="summer-26-nl", recipient="sub-884213", link_id="3",
        url=destination, variant="A", sent_at=int(time.time()),
    )  # fmt: skip
    url = _signer(("k1", "k" * 40)).click_url(token)
    print(f"\nclick URL for a 60-character destination: {len(url)} characters")
    assert len(url) < 200


@pytest.mark.parametrize("url", ["HTTP://WWW.EXAMPLE.COM/SALE", "Https://shop.example/new", "hTTp://[::1]:8/"])
def test_a_destination_in_any_scheme_case_decodes_to_exactly_itself(url: str) -> None:
    signer = _signer(("k1", "s" * 32))
    token = LinkToken(TokenKind.CLICK, "c1", "sub-1", "1", url)
    assert signer.verify(TokenKind.CLICK, signer.sign(token)).url == url


@pytest.mark.parametrize("key", ["jane@example.com", "Jane.Doe+news@Example.co.uk", "jane%40example.com"])
def test_an_email_shaped_recipient_key_is_never_readable_in_the_token(key: str) -> None:
    signer = _signer(("k1", "s" * 32))
    fields = signer.recipient_fields(Mode.PSEUDONYMOUS, key)
    token = signer.sign(LinkToken(TokenKind.CLICK, "c1", fields["recipient"], "1", "https://x.example/"))
    payload = token.split(".")[1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).lower()
    assert b"jane" not in raw
    assert fields["recipient"] == signer.recipient_fields(Mode.PSEUDONYMOUS, "", key.replace("%40", "@"))["recipient"]


def test_a_token_built_by_hand_with_an_email_recipient_carries_its_pseudonym() -> None:
    signer = _signer(("k1", "s" * 32))
    token = signer.sign(LinkToken(TokenKind.OPEN, "c1", "jane@example.com"))
    payload = token.split(".")[1]
    assert b"jane" not in base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert (
        signer.verify(TokenKind.OPEN, token).recipient
        == signer.recipient_fields(Mode.PSEUDONYMOUS, "jane@example.com")["recipient"]
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://a b/x",
        "https://<?= $domain ?>/account",
        "https://shop.example%3Cscript/x",
        'https://sh"op.example/',
        "https://{{host}}/x",
        "https://shop|example/",
        "http://user@sh op.example:80/",
    ],
)
def test_a_host_no_browser_would_follow_is_refused_at_signing(url: str) -> None:
    """Found by the template corpus (issue 13): hosts with spaces or markup were signed and then went nowhere."""
    from gateway.edge.links import destination_problem

    problem = destination_problem(url)
    assert problem is not None
    assert "host" in problem


@pytest.mark.parametrize(
    "url",
    [
        "https://bücher.example/",
        "https://[2001:db8::1]:8443/x",
        "http://user:p%40ss@shop.example:80/a b",
        "HTTPS://WWW.X.COM",
    ],
)
def test_ordinary_hosts_stay_signable(url: str) -> None:
    from gateway.edge.links import destination_problem

    assert destination_problem(url) is None
