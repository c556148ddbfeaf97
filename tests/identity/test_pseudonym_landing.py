from __future__ import annotations

import time

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity import LandingTokens, Pseudonymizer

NEW = ("k2", "n" * 40)
OLD = ("k1", "o" * 40)


@given(st.emails())
def test_email_pseudonyms_are_stable_and_hide_the_address(email: str) -> None:
    p = Pseudonymizer([NEW])
    first = p.email(email)
    assert first == p.email(f"  {email.upper()} ")  # trimmed and lower-cased before hashing
    assert first.startswith("em_k2_")
    assert "@" not in first
    assert email.lower() not in first


def test_rotation_gives_candidates_under_every_key() -> None:
    old = Pseudonymizer([OLD]).email("a@b.example")
    rotated = Pseudonymizer([NEW, OLD])
    assert rotated.email("a@b.example") != old
    assert rotated.candidates("em", "a@b.example")[1] == old
    assert Pseudonymizer([OLD]).email("") == ""


def test_landing_tokens_are_standard_jwts_checked_by_pyjwt() -> None:
    tokens = LandingTokens([NEW, OLD], ttl_seconds=600)
    now = time.time()
    text = tokens.issue(recipient_pseudonym="rc_x", campaign_id="c1", link_id="3", event_id="e1", now=now)
    claims = tokens.verify(text)
    assert (claims.recipient_pseudonym, claims.campaign_id, claims.link_id, claims.event_id) == (
        "rc_x",
        "c1",
        "3",
        "e1",
    )
    assert claims.expires_at == int(now) + 600
    decoded = jwt.decode(text, NEW[1], algorithms=["HS256"], audience="ga4gw-landing", issuer="ga4gw")
    assert decoded["jti"] == "e1"


def test_landing_tokens_refuse_expiry_tampering_and_unknown_keys() -> None:
    tokens = LandingTokens([NEW])
    expired = tokens.issue(recipient_pseudonym="r", campaign_id="c", link_id="1", event_id="e", now=time.time() - 4000)
    with pytest.raises(jwt.ExpiredSignatureError):
        tokens.verify(expired)
    good = tokens.issue(recipient_pseudonym="r", campaign_id="c", link_id="1", event_id="e", now=time.time())
    header, payload, signature = good.split(".")
    with pytest.raises(jwt.PyJWTError):
        tokens.verify(f"{header}.{payload}x.{signature}")
    with pytest.raises(jwt.PyJWTError):
        LandingTokens([OLD]).verify(good)
    with pytest.raises(ValueError, match="30 minutes"):
        LandingTokens([NEW], ttl_seconds=3600)


@given(st.lists(st.sampled_from(["spring", "summer", "winter"]), min_size=2, max_size=6))
def test_the_landing_url_never_carries_a_joinable_recipient(campaigns: list[str]) -> None:
    """Issue 11, item 11: the token's claims are readable by whoever holds the URL; they must not join clicks."""
    tokens = LandingTokens([NEW])
    now = time.time()
    issued = [
        tokens.issue(recipient_pseudonym="rc_k2_same", campaign_id=c, link_id="1", event_id=f"e{i}", now=now)
        for i, c in enumerate(campaigns)
    ]
    readable = [jwt.decode(t, options={"verify_signature": False})["rcp"] for t in issued]  # what the shop's site sees
    assert len(set(readable)) == len(readable)
    assert not any("rc_k2_same" in t or "rc_k2_same" in r for t, r in zip(issued, readable, strict=True))
    assert {tokens.verify(t).recipient_pseudonym for t in issued} == {"rc_k2_same"}  # the gateway still reads it


def test_a_sealed_recipient_moved_to_another_token_is_refused() -> None:
    tokens = LandingTokens([NEW])
    now = time.time()
    first = tokens.issue(recipient_pseudonym="rc_a", campaign_id="c", link_id="1", event_id="e1", now=now)
    sealed = jwt.decode(first, options={"verify_signature": False})["rcp"]
    claims = {"iss": "ga4gw", "aud": "ga4gw-landing", "exp": int(now) + 60, "jti": "e2", "rcp": sealed}
    forged = jwt.encode(claims, NEW[1], algorithm="HS256", headers={"kid": NEW[0]})  # even with the signing key
    with pytest.raises(jwt.PyJWTError, match="recipient"):
        tokens.verify(forged)
    anonymous = tokens.issue(recipient_pseudonym="", campaign_id="c", link_id="1", event_id="e3", now=now)
    assert tokens.verify(anonymous).recipient_pseudonym == ""
