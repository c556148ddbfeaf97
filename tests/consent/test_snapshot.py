from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent import (
    ConsentEvent,
    ConsentLedger,
    ConsentPolicy,
    ConsentSnapshot,
    InvalidConsent,
    Purpose,
    load_snapshot,
    parse_purposes,
    parse_regions,
    tcf_events,
    unsubscribe_event,
)
from warehouse import Warehouse, migrate

# Rows older than the retention TTL (14 months) vanish from the table, so stored times stay near today.
NOW = datetime.now(UTC).replace(microsecond=0)


def ev(
    subject: str, purpose: Purpose, granted: bool, minutes: int = 0, source: str = "api", eid: str = ""
) -> ConsentEvent:
    return ConsentEvent(subject, purpose, granted, source, NOW + timedelta(minutes=minutes), "v1", "", eid)


def test_regions_decide_the_default_and_events_override_it() -> None:
    snap = ConsentSnapshot()
    for region in ("DE", "fr", "GB", "UK", "CH", "NO", ""):
        d = snap.decide("em_k1_a", Purpose.ANALYTICS_STORAGE, region)
        assert (d.granted, d.reason, d.rule, d.event) == (False, "default", "opt_in", None), region
    d = snap.decide("em_k1_a", Purpose.ANALYTICS_STORAGE, "US")
    assert (d.granted, d.reason, d.rule) == (True, "default", "opt_out")
    grant = ev("em_k1_a", Purpose.ANALYTICS_STORAGE, True)
    snap.add([grant])
    d = snap.decide("em_k1_a", Purpose.ANALYTICS_STORAGE, "DE")
    assert (d.granted, d.reason, d.event) == (True, "explicit", grant)
    assert not snap.decide("em_k1_a", Purpose.AD_STORAGE, "DE").granted  # other purposes keep the default


def test_defaults_are_configurable_per_purpose() -> None:
    policy = ConsentPolicy(
        opt_in_regions=parse_regions("de, at"),
        granted_in_opt_in=parse_purposes("email_tracking"),
        denied_elsewhere=parse_purposes("ad_personalization,ad_user_data"),
    )
    snap = ConsentSnapshot(policy)
    assert snap.decide("s", Purpose.EMAIL_TRACKING, "DE").granted
    assert not snap.decide("s", Purpose.AD_STORAGE, "AT").granted
    assert snap.decide("s", Purpose.AD_STORAGE, "FR").granted  # FR is no longer listed
    assert not snap.decide("s", Purpose.AD_PERSONALIZATION, "US").granted
    assert ConsentPolicy.from_names(["de", "AT"], ["email_tracking"], ["ad_user_data", "ad_personalization"]) == policy
    with pytest.raises(InvalidConsent, match="ad_tracking"):
        parse_purposes("ad_tracking")
    with pytest.raises(InvalidConsent, match="two-letter"):
        parse_regions("DEU")


def test_an_unsubscribe_denies_email_tracking_from_then_on() -> None:
    snap = ConsentSnapshot()
    snap.add([ev("sub-1", Purpose.EMAIL_TRACKING, True, 0)])
    snap.add([unsubscribe_event("sub-1", NOW + timedelta(days=1), event_id="u1")])
    d = snap.decide("sub-1", Purpose.EMAIL_TRACKING, "US")
    assert (d.granted, d.event.source if d.event else "") == (False, "unsubscribe")
    assert snap.decide("sub-1", Purpose.EMAIL_TRACKING, "US", at=NOW + timedelta(hours=1)).granted  # before it


def test_a_denial_wins_a_tie_and_the_latest_event_among_a_persons_pseudonyms_decides() -> None:
    snap = ConsentSnapshot()
    snap.add([ev("a", Purpose.AD_STORAGE, True, 5), ev("a", Purpose.AD_STORAGE, False, 5)])
    assert not snap.decide("a", Purpose.AD_STORAGE, "US").granted
    snap.add([ev("em_k2_new", Purpose.AD_STORAGE, True, 9), ev("em_k1_old", Purpose.AD_STORAGE, False, 7)])
    assert snap.decide(["em_k2_new", "em_k1_old"], Purpose.AD_STORAGE, "DE").granted
    assert not snap.decide(["em_k1_old"], Purpose.AD_STORAGE, "DE").granted


def test_tcf_events_feed_the_snapshot() -> None:
    snap = ConsentSnapshot()
    snap.add(
        tcf_events("em_k1_a", "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA")
    )
    decisions = snap.decide_all("em_k1_a", "US")
    assert decisions[Purpose.AD_PERSONALIZATION].granted
    assert not decisions[Purpose.ANALYTICS_STORAGE].granted  # explicit denial beats the opt-out default
    assert decisions[Purpose.ANALYTICS_STORAGE].reason == "explicit"
    assert decisions[Purpose.EMAIL_TRACKING].reason == "default"


def test_events_are_checked() -> None:
    with pytest.raises(InvalidConsent, match="purpose"):
        ConsentEvent("s", "tracking", True, "api", NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidConsent, match="timezone"):
        ConsentEvent("s", Purpose.AD_STORAGE, True, "api", NOW.replace(tzinfo=None))
    with pytest.raises(InvalidConsent, match="pseudonym"):
        ConsentEvent("a b@example.com", Purpose.AD_STORAGE, True, "api", NOW)


_events = st.lists(
    st.builds(
        ev,
        st.sampled_from(["s1", "s2"]),
        st.sampled_from(list(Purpose)),
        st.booleans(),
        st.integers(0, 6),
        st.sampled_from(["api", "mp", "tcf"]),
        st.sampled_from(["", "e1", "e2"]),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(_events, st.randoms(use_true_random=False), st.integers(1, 5))
def test_the_snapshot_does_not_depend_on_arrival_order(events: list[ConsentEvent], rnd: random.Random, n: int) -> None:
    ordered = ConsentSnapshot()
    ordered.add(sorted(events, key=lambda e: e.order))
    shuffled = list(events)
    rnd.shuffle(shuffled)
    incremental = ConsentSnapshot()
    for i in range(n):
        incremental.add(shuffled[i::n])
    assert incremental.state() == ordered.state()
    for subject in ("s1", "s2"):
        for purpose in Purpose:
            for minute in range(-1, 8):
                at = NOW + timedelta(minutes=minute, seconds=30)
                assert incremental.decide(subject, purpose, "DE", at) == ordered.decide(subject, purpose, "DE", at)
            # The decision is the last event in the ledger's order, a denial winning a tie.
            mine = [e for e in events if e.subject == subject and e.purpose == purpose]
            if mine:
                assert incremental.decide(subject, purpose, "US").granted == max(mine, key=lambda e: e.order).granted


def test_the_ledger_round_trips_through_the_warehouse(warehouse: Warehouse) -> None:
    migrate(warehouse)
    ledger = ConsentLedger(warehouse, clock=lambda: NOW)
    events = [
        ev("em_k1_a", Purpose.AD_STORAGE, True, 0, eid="e1"),
        unsubscribe_event("sub-9", NOW + timedelta(minutes=1), event_id="e2"),
        *tcf_events("em_k1_a", "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA", at=NOW + timedelta(minutes=2)),
    ]
    assert ledger.append(events) == 6
    snap = load_snapshot(warehouse)
    expected = ConsentSnapshot()
    expected.add(events)
    assert snap.state() == expected.state()
    stored = list(ledger.events("em_k1_a"))
    assert len(stored) == 5
    assert stored[-1].tcf_string == "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA"
    assert not snap.decide("em_k1_a", Purpose.AD_STORAGE, "US").granted  # the later TC string denied it


def test_forget_drops_every_decision_of_the_subjects_and_they_get_the_default_again() -> None:
    snapshot = ConsentSnapshot()
    snapshot.add([ev("em_a", Purpose.AD_STORAGE, False), ev("em_a", Purpose.AD_USER_DATA, False, 1),
                  ev("us_a", Purpose.AD_STORAGE, False), ev("em_b", Purpose.AD_STORAGE, False)])  # fmt: skip
    assert snapshot.forget(["em_a", "us_a", "unknown"]) == 3
    assert snapshot.events == 1
    assert snapshot.decide(["em_a", "us_a"], Purpose.AD_STORAGE, "US").reason == "default"
    assert not snapshot.decide("em_b", Purpose.AD_STORAGE, "US").granted
