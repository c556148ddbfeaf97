"""TC strings built by a small encoder written from the IAB layout, plus published examples."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent import Purpose, TcfError, TcfVersionError, consent_mode_signals, decode_tc_string, tcf_events


def encode(
    *,
    purposes: set[int] = frozenset(),  # type: ignore[assignment]
    li: set[int] = frozenset(),  # type: ignore[assignment]
    features: set[int] = frozenset(),  # type: ignore[assignment]
    version: int = 2,
    created: int = 17_000_000_000,  # deciseconds
    updated: int = 17_100_000_000,
    cmp_id: int = 300,
    cmp_version: int = 7,
    screen: int = 1,
    language: str = "fr",
    language_bits: str = "",  # overrides ``language`` with raw bits (to build bad strings)
    vendor_list: int = 150,
    policy: int = 4,
    one_treatment: bool = False,
    publisher_cc: str = "DE",
    vendor_bits: str = "0000000000000011" + "0" + "11",  # MaxVendorId 3, bit field, vendors 1..3 (not read)
) -> str:
    def letters(text: str) -> str:
        return "".join(format(ord(c) - ord("a"), "06b") for c in text.lower())

    def bits(ids: set[int], width: int) -> str:
        return "".join("1" if i in ids else "0" for i in range(1, width + 1))

    fields = [
        format(version, "06b"), format(created, "036b"), format(updated, "036b"), format(cmp_id, "012b"),
        format(cmp_version, "012b"), format(screen, "06b"), language_bits or letters(language),
        format(vendor_list, "012b"), format(policy, "06b"), "0", "0", bits(features, 12), bits(purposes, 24),
        bits(li, 24), "1" if one_treatment else "0", letters(publisher_cc), vendor_bits,
    ]  # fmt: skip
    stream = "".join(fields)
    stream += "0" * (-len(stream) % 8)
    raw = int(stream, 2).to_bytes(len(stream) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_published_example_decodes_to_its_documented_fields() -> None:
    # From the IAB TCF decoder test suites: created 2020-01-26 17:01, CMP 675, purposes 2 and 10.
    tc = decode_tc_string("COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA")
    assert tc.version == 2
    assert tc.created == datetime(2020, 1, 26, 17, 1, tzinfo=UTC)
    assert tc.last_updated == datetime(2021, 2, 2, 17, 1, tzinfo=UTC)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen, tc.vendor_list_version) == (675, 2, 1, 15)
    assert (tc.consent_language, tc.publisher_cc, tc.policy_version) == ("en", "AA", 2)
    assert tc.purposes_consent == {2, 10}
    assert tc.purposes_li_transparency == {2, 9}
    assert tc.special_feature_opt_ins == {1}
    assert tc.purpose_one_treatment
    assert not any(consent_mode_signals(tc).values())  # purpose 1 missing: nothing is granted
    other = decode_tc_string(
        "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA.IBAgAAAgAIAwgAgAAAAEAAAACA"
    )
    assert other.purposes_consent == {3, 4, 5, 6, 7, 8, 9}
    assert consent_mode_signals(other) == {
        Purpose.AD_STORAGE: False,
        Purpose.ANALYTICS_STORAGE: False,
        Purpose.AD_USER_DATA: False,  # 7 without 1
        Purpose.AD_PERSONALIZATION: True,  # 3 and 4
    }


@given(
    purposes=st.sets(st.integers(1, 24)),
    li=st.sets(st.integers(1, 24)),
    features=st.sets(st.integers(1, 12)),
    created=st.integers(1, 2**36 - 1),
    updated=st.integers(1, 2**36 - 1),
    cmp_id=st.integers(0, 4095),
    language=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=2),
    one_treatment=st.booleans(),
)
def test_encoded_fields_decode_back(
    purposes: set[int], li: set[int], features: set[int], created: int, updated: int, cmp_id: int, language: str,
    one_treatment: bool,
) -> None:  # fmt: skip
    tc = decode_tc_string(
        encode(purposes=purposes, li=li, features=features, created=created, updated=updated, cmp_id=cmp_id,
               language=language, one_treatment=one_treatment)
    )  # fmt: skip
    assert tc.purposes_consent == purposes
    assert tc.purposes_li_transparency == li
    assert tc.special_feature_opt_ins == features
    assert tc.created == datetime.fromtimestamp(created / 10, UTC)
    assert tc.last_updated == datetime.fromtimestamp(updated / 10, UTC)
    assert tc.cmp_id == cmp_id
    assert tc.consent_language == language
    assert tc.purpose_one_treatment == one_treatment
    signals = consent_mode_signals(tc)
    assert signals[Purpose.AD_STORAGE] == signals[Purpose.ANALYTICS_STORAGE] == (1 in purposes)
    assert signals[Purpose.AD_USER_DATA] == ({1, 7} <= purposes)
    assert signals[Purpose.AD_PERSONALIZATION] == ({3, 4} <= purposes)


def test_legitimate_interest_never_grants_a_signal() -> None:
    tc = decode_tc_string(encode(purposes=set(), li=set(range(1, 25))))
    assert not any(consent_mode_signals(tc).values())


def test_tcf_events_carry_the_string_and_default_to_its_last_update() -> None:
    text = encode(purposes={1, 3, 4, 7}, updated=17_500_000_000)
    events = tcf_events("em_k1_abc", text + ".IBAgAA", event_id="ev1", policy_version="p3")
    assert {e.purpose for e in events} == {
        Purpose.AD_STORAGE, Purpose.ANALYTICS_STORAGE, Purpose.AD_USER_DATA, Purpose.AD_PERSONALIZATION
    }  # fmt: skip
    assert all(e.granted and e.source == "tcf" and e.tcf_string == text + ".IBAgAA" for e in events)
    assert {e.at for e in events} == {datetime.fromtimestamp(1_750_000_000, UTC)}
    assert {e.event_id for e in events} == {f"ev1:{p}" for p in ("ad_storage", "analytics_storage", "ad_user_data",
                                                                  "ad_personalization")}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("", "encoding", "empty"),
        ("CO tybn4", "encoding", "' ' at position 2"),
        ("COtybn4PA+zT4", "encoding", "'+' at position 9"),
        ("COtybn4PA_zT4KjACBENAPCIAEBAAEC", "length", "186 bits"),
        (encode()[:35], "length", "210 bits; it needs at least 213"),
    ],
)
def test_bad_strings_say_what_is_wrong(text: str, field: str, words: str) -> None:
    with pytest.raises(TcfError) as caught:
        decode_tc_string(text)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_bad_fields_and_versions_are_named() -> None:
    with pytest.raises(TcfVersionError, match="version 1"):
        decode_tc_string("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA")  # a TCF v1.1 consent string
    with pytest.raises(TcfVersionError, match="version 3"):
        decode_tc_string(encode(version=3))
    with pytest.raises(TcfError, match="Created: is zero"):
        decode_tc_string(encode(created=0))
    assert decode_tc_string(encode(language_bits="000000011001")).consent_language == "az"
    with pytest.raises(TcfError) as caught:
        decode_tc_string(encode(language_bits="011010000000"))  # letter code 26 is past Z
    assert caught.value.field == "ConsentLanguage"
