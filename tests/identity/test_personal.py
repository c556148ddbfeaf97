"""Emails and phone numbers inside params and URLs: found, replaced by their pseudonyms, counted.

The examples in ``tests/data/pii_examples.json`` are real-world strings with their sources; the
negative ones (order ids, prices, times, client ids, UUIDs, ``@2x`` images) must come back unchanged.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity import Pseudonymizer
from identity.personal import PersonalData, is_phone_key

KEYS = [("k1", "s" * 40)]
PSEUDONYMS = Pseudonymizer(KEYS)
PERSONAL = PersonalData(PSEUDONYMS)
EXAMPLES = json.loads((Path(__file__).parent.parent / "data" / "pii_examples.json").read_text(encoding="utf-8"))

_LOCAL = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=1, max_size=12)
_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_TLD = st.sampled_from(["com", "de", "org", "co.uk", "example", "io", "shop", "fr", "nl"])
EMAILS = st.builds(
    lambda a, b, label, tld: f"{a}.{b}@{label}.{tld}" if b else f"{a}@{label}.{tld}",
    _LOCAL,
    st.one_of(st.just(""), _LOCAL),
    _LABEL,
    _TLD,
)
_AROUND = st.text(' ,;:<>()[]"/=&?#!abcdefghij0123456789', max_size=10)


def _scrub(text: str, key: str = "") -> tuple[str, dict[str, int]]:
    found: Counter[str] = Counter()
    return PERSONAL.text(text, found, key), dict(found)


@pytest.mark.parametrize("example", EXAMPLES["positive"], ids=lambda e: e["text"][:60])
def test_real_world_personal_data_is_replaced(example: dict[str, Any]) -> None:
    out, found = _scrub(example["text"], example.get("key", ""))
    assert found == example["found"], example["source"]
    for raw in example["raw"]:
        assert raw.lower() not in out.lower(), example["source"]
    assert "em_k1_" in out or "ph_k1_" in out


@pytest.mark.parametrize("example", EXAMPLES["negative"], ids=lambda e: e["text"][:60])
def test_real_world_lookalikes_are_kept(example: dict[str, Any]) -> None:
    assert _scrub(example["text"], example.get("key", "")) == (example["text"], {}), example["source"]


def test_the_replacement_is_the_pseudonym_the_gateway_joins_on() -> None:
    assert _scrub("Ann.Lee@Example.com")[0] == PSEUDONYMS.email("ann.lee@example.com")
    encoded = "https://shop.example/?e=Ann.Lee%2Bnews%40Example.com"
    assert _scrub(encoded)[0] == f"https://shop.example/?e={PSEUDONYMS.email('ann.lee+news@example.com')}"
    assert _scrub("+49 151 2345-6789")[0] == PSEUDONYMS.pseudonym("ph", "+4915123456789")


def test_phone_keys_are_words_of_the_key() -> None:
    for key in ("phone", "phone_number", "customerPhone", "tel", "mobile", "billing.telephone", "whatsapp"):
        assert is_phone_key(key), key
    for key in ("hotel", "intel_score", "telemetry", "order_id", "items", "mobility"):
        assert not is_phone_key(key), key


def test_params_are_walked_and_a_grown_value_stays_within_its_limit() -> None:
    params = {
        "page_location": "https://shop.example/thanks?email=a@b.de",
        "items": [{"item_id": "SKU-1", "item_brand": "x@shop.example", "price": 9.5}],
        "value": 59.9,
        "customer_phone": "030 1234567",
        "flag": True,
    }
    found: Counter[str] = Counter()
    out = PERSONAL.value(params, found, max_chars=60)
    assert found == Counter({"email": 2, "phone": 1})
    assert out["items"][0]["item_brand"] == PSEUDONYMS.email("x@shop.example")
    assert out["items"][0]["price"] == 9.5
    assert out["value"] == 59.9
    assert out["flag"] is True
    assert out["customer_phone"].startswith("ph_k1_")
    assert len(out["page_location"]) == 60  # grew past the limit: cut, never longer than allowed
    assert "a@b.de" not in json.dumps(out)


@given(EMAILS, _AROUND, _AROUND)
def test_any_email_in_any_text_is_replaced(email: str, before: str, after: str) -> None:
    text = f"{before} {email} {after}"
    out, found = _scrub(text)
    assert email not in out
    assert found.get("email", 0) >= 1
    assert PSEUDONYMS.email(email) in out


@given(EMAILS, st.sampled_from(["email", "e", "u", "subscriber", "contact"]), st.booleans())
def test_any_email_in_a_query_value_is_replaced_encoded_or_not(email: str, key: str, encode: bool) -> None:
    value = quote(email, safe="") if encode else email
    out, found = _scrub(f"https://shop.example/p/1?utm_source=x&{key}={value}#reviews")
    assert out == f"https://shop.example/p/1?utm_source=x&{key}={PSEUDONYMS.email(email)}#reviews"
    assert found == {"email": 1}


@given(st.text(st.characters(blacklist_characters="@+%", blacklist_categories=["Cs"]), max_size=80))
def test_text_without_an_at_plus_or_percent_is_untouched(text: str) -> None:
    assert _scrub(text) == (text, {})


@given(st.text(max_size=80), st.sampled_from(["", "phone", "page_location", "q"]))
def test_replacing_twice_changes_nothing_more(text: str, key: str) -> None:
    once, _ = _scrub(text, key)
    assert _scrub(once, key)[0] == once


@given(
    st.one_of(
        st.integers(min_value=1, max_value=2**40).map(lambda n: f"{n}.{1_600_000_000 + n % 10**8}"),  # client ids
        st.decimals(min_value=0, max_value=10**6, places=2).map(str),  # prices
        st.datetimes().map(lambda d: d.isoformat() + "Z"),
        st.uuids().map(str),
        st.from_regex(r"[A-Z]{1,3}-[0-9]{3,12}", fullmatch=True),  # order ids
    )
)
def test_ids_prices_and_times_are_never_taken_for_personal_data(text: str) -> None:
    assert _scrub(text) == (text, {})
    assert _scrub(f"https://shop.example/o?order={text}") == (f"https://shop.example/o?order={text}", {})


def test_an_address_glued_to_another_at_sign_is_replaced_once_and_for_all() -> None:
    once, found = _scrub("a@b.de@c.com")
    assert found == {"email": 1}
    assert "b.de@c.com" not in once
    assert _scrub(once) == (once, {})
