from __future__ import annotations

import time

import jwt
import pytest

from gateway.api.auth import AUDIENCE, ISSUER, TokenAuthority
from gateway.config.keys import Keyring
from gateway.errors import ScopeMissing, TokenInvalid

OLD = ("old", "o" * 64)
NEW = ("new", "n" * 64)


def test_issue_and_verify() -> None:
    authority = TokenAuthority(Keyring((NEW,)))
    principal = authority.verify(authority.issue("sender", ["links:write"], 60))
    assert principal.subject == "sender"
    assert principal.scopes == {"links:write"}
    principal.require("links:write")
    with pytest.raises(ScopeMissing):
        principal.require("sql:read")


def test_rotation_keeps_old_tokens_valid() -> None:
    token = TokenAuthority(Keyring((OLD,))).issue("sender", ["sql:read"], 60)
    rotated = TokenAuthority(Keyring((NEW, OLD)))
    assert rotated.verify(token).subject == "sender"
    assert jwt.get_unverified_header(rotated.issue("x", ["sql:read"], 60))["kid"] == "new"
    with pytest.raises(TokenInvalid, match="key id"):
        TokenAuthority(Keyring((NEW,))).verify(token)


def test_expired_token_is_refused() -> None:
    authority = TokenAuthority(Keyring((NEW,)), leeway=0)
    token = authority.issue("sender", ["sql:read"], 10, now=time.time() - 100)
    with pytest.raises(TokenInvalid, match="expired"):
        authority.verify(token)


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "someone-else", "aud": AUDIENCE},
        {"iss": ISSUER, "aud": "another-api"},
    ],
)
def test_issuer_and_audience_are_checked(claims: dict[str, str]) -> None:
    now = int(time.time())
    token = jwt.encode({**claims, "sub": "x", "iat": now, "exp": now + 60}, NEW[1], headers={"kid": "new"})
    with pytest.raises(TokenInvalid):
        TokenAuthority(Keyring((NEW,))).verify(token)


def test_algorithm_is_pinned() -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": now, "exp": now + 60, "scope": "admin"}
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": "new"})
    with pytest.raises(TokenInvalid):
        TokenAuthority(Keyring((NEW,))).verify(unsigned)
    hs512 = jwt.encode(claims, NEW[1], algorithm="HS512", headers={"kid": "new"})
    with pytest.raises(TokenInvalid):
        TokenAuthority(Keyring((NEW,))).verify(hs512)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(TokenInvalid):
        TokenAuthority(Keyring((NEW,))).verify(garbage)


def test_unknown_scope_cannot_be_issued() -> None:
    with pytest.raises(ValueError, match="unknown"):
        TokenAuthority(Keyring((NEW,))).issue("x", ["everything"], 60)
