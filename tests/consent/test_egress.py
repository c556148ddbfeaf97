"""The purpose mask of an event: what the GA4 relay may send, and when a later decision takes it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from consent import ConsentEvent, ConsentPolicy, ConsentSnapshot, Purpose
from consent.egress import BITS, MP_RELEVANT, granted_mask, has, withdrawn

T0 = datetime(2026, 11, 23, 10, tzinfo=UTC)


def decision(subject: str, purpose: Purpose, granted: bool, minutes: int = 0) -> ConsentEvent:
    return ConsentEvent(subject, purpose, granted, "api", T0 + timedelta(minutes=minutes))


def test_an_opt_in_region_denies_until_granted_and_a_personal_email_event_keeps_email_tracking() -> None:
    snapshot = ConsentSnapshot(ConsentPolicy())
    mask = granted_mask(snapshot, ["rc_k1_a"], "DE", email=True)
    assert mask == BITS[Purpose.EMAIL_TRACKING]  # the edge recorded it personally; the rest is denied in DE
    assert (
        granted_mask(snapshot, ["rc_k1_a"], "US")
        == MP_RELEVANT & ~BITS[Purpose.EMAIL_TRACKING] | BITS[Purpose.AD_STORAGE]
    )
    snapshot.add([decision("em_k1_b", Purpose.ANALYTICS_STORAGE, True)])
    # any identifier of the person decides: the grant was given under the email's pseudonym
    assert has(granted_mask(snapshot, ["rc_k1_a", "em_k1_b"], "DE"), Purpose.ANALYTICS_STORAGE)


def test_only_an_explicit_denial_takes_email_tracking_back() -> None:
    snapshot = ConsentSnapshot(ConsentPolicy())
    before = granted_mask(snapshot, ["rc_k1_a"], "DE", email=True)
    snapshot.add([decision("rc_k1_a", Purpose.EMAIL_TRACKING, False, 5)])
    assert withdrawn(before, granted_mask(snapshot, ["rc_k1_a"], "DE", email=True))


@given(
    st.lists(st.tuples(st.sampled_from(list(Purpose)), st.booleans()), max_size=8),
    st.lists(st.tuples(st.sampled_from(list(Purpose)), st.booleans()), max_size=8),
    st.sampled_from(["DE", "US", ""]),
)
def test_withdrawn_is_exactly_a_relevant_purpose_lost(
    before_events: list[tuple[Purpose, bool]], after_events: list[tuple[Purpose, bool]], region: str
) -> None:
    snapshot = ConsentSnapshot(ConsentPolicy())
    snapshot.add([decision("s", p, g, i) for i, (p, g) in enumerate(before_events)])
    before = granted_mask(snapshot, ["s"], region, email=True)
    snapshot.add([decision("s", p, g, 100 + i) for i, (p, g) in enumerate(after_events)])
    after = granted_mask(snapshot, ["s"], region, email=True)
    lost = {p for p in Purpose if has(before, p) and not has(after, p) and p is not Purpose.AD_STORAGE}
    assert withdrawn(before, after) == bool(lost)
    for purpose in Purpose:  # the mask is what the snapshot decides (email tracking: unless explicitly denied)
        d = snapshot.decide(["s"], purpose, region)
        expected = (d.granted if d.reason == "explicit" else True) if purpose is Purpose.EMAIL_TRACKING else d.granted
        assert has(after, purpose) == expected
