"""MP user_data arriving as plain text is normalised and hashed by Google's rules (uid-data page), hashes kept."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from gateway.ga4.user_data import email_hash, normalize_email, normalize_phone, prepare


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_emails_are_trimmed_lowered_and_lose_gmail_dots_only_at_gmail() -> None:
    # https://developers.google.com/analytics/devguides/collection/ga4/uid-data: trim, lowercase, and remove the
    # periods before the domain of gmail.com and googlemail.com addresses.
    assert normalize_email("  Ann.Example@GMail.com ") == "annexample@gmail.com"
    assert normalize_email("ann.example@googlemail.com") == "annexample@googlemail.com"
    assert normalize_email("Ann.Example@Mail.example") == "ann.example@mail.example"


def test_phones_become_e164_with_a_plus() -> None:
    assert normalize_phone("+1 (650) 555-1234") == "+16505551234"
    assert normalize_phone("0049 30 1234") == "+0049301234"  # digits only: a national prefix is the sender's job
    assert normalize_phone("n/a") == ""


def test_raw_values_are_hashed_and_hashes_are_kept() -> None:
    already = sha("bob@shop.example")
    data, left = prepare({
        "sha256_email_address": ["  Ann.Example@GMail.com", already.upper()],
        "sha256_phone_number": "+1 650-555-1234",  # one string where Google wants a list
        "address": [{"sha256_first_name": " Ann-Marie3 ", "sha256_last_name": "O'Neil", "sha256_street": "1 Main St.",
                     "city": "Mountain View 2", "region": "CA", "postal_code": "94043.", "country": "us"}],
    })  # fmt: skip
    assert left == []
    assert data["sha256_email_address"] == [sha("annexample@gmail.com"), already]
    assert data["sha256_phone_number"] == [sha("+16505551234")]
    [address] = data["address"]
    assert address == {
        "sha256_first_name": sha("annmarie"),
        "sha256_last_name": sha("oneil"),
        "sha256_street": sha("1 main st"),
        "city": "mountain view",
        "region": "ca",
        "postal_code": "94043",
        "country": "US",
    }
    assert email_hash("Ann.Example@GMail.com") == sha("annexample@gmail.com")


def test_what_cannot_be_hashed_is_named_not_kept() -> None:
    data, left = prepare({"sha256_email_address": [5, "  "], "email": ["a@b.example"], "address": ["x"]})
    assert data == {}
    assert left == ["user_data.sha256_email_address[0]", "user_data.sha256_email_address[1]", "user_data.email",
                    "user_data.address[0]"]  # fmt: skip
    assert prepare(["a"]) == ({}, ["user_data"])


@given(st.emails())
def test_no_plain_email_survives(email: str) -> None:
    data, _ = prepare({"sha256_email_address": [email]})
    [digest] = data["sha256_email_address"]
    assert len(digest) == 64
    assert "@" not in digest
    assert digest == email_hash(email)
