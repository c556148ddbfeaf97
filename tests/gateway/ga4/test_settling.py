"""The settling window: an open or click revised to a machine's verdict while it settles never reaches GA4."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tests.gateway.ga4.conftest import Rig, append, arrivals, click, wait_for
from warehouse import EventRow, revision_row

HOUR = 3600.0


def revision(n: int, revises: str) -> EventRow:
    return revision_row(
        f"rv{n:06d}",
        revises=revises,
        hit="click",
        campaign_id="c1",
        link_id="",
        previous="human",
        verdict="scanner",
        reasons=("click_before_open", "revised:link_burst"),
        at=datetime.now(UTC),
    )


def taken(rig: Rig, events: int) -> bool:
    ledger = rig.ledger()
    try:
        status = ledger.status(max_age=72 * HOUR)
        return status.queued_deliveries == 0 and status.position >= events
    finally:
        ledger.close()


def skipped(rig: Rig) -> dict[str, int]:
    ledger = rig.ledger()
    try:
        return ledger.status(max_age=72 * HOUR).skipped
    finally:
        ledger.close()


def test_a_click_revised_while_it_settles_is_not_relayed(rig: Rig) -> None:
    rig.start(settle_seconds=1.5)
    append(rig.outbox, [click(1), click(2)])
    time.sleep(0.3)  # the burst that shows click 1 was a scanner's is found a moment later
    append(rig.outbox, [revision(1, "ev000001")])
    wait_for(lambda: taken(rig, 3))
    assert arrivals(rig.standin) == {"2": 1}
    assert skipped(rig) == {"revised": 1, "verdict_revision": 1}


def test_without_a_window_the_revision_comes_too_late_and_is_counted(rig: Rig) -> None:
    rig.start(settle_seconds=0.0)
    append(rig.outbox, [click(1)])
    wait_for(lambda: taken(rig, 1))
    append(rig.outbox, [revision(1, "ev000001")])
    wait_for(lambda: taken(rig, 2))
    assert arrivals(rig.standin) == {"1": 1}  # GA4 cannot un-receive it
    assert skipped(rig) == {"revised_after_relay": 1}


def test_clicks_wait_in_the_outbox_until_settled(rig: Rig) -> None:
    rig.start(settle_seconds=120.0)
    append(rig.outbox, [click(1)])
    time.sleep(0.5)  # many intake rounds
    assert arrivals(rig.standin) == {}
    assert rig.outbox.pending("ga4")  # held durably: the relay's position stays before it
    rig.clock.offset = 121.0
    wait_for(lambda: taken(rig, 1))
    assert arrivals(rig.standin) == {"1": 1}


def test_a_revision_back_to_a_person_does_not_hold_the_click(rig: Rig) -> None:
    rig.start(settle_seconds=1.0)
    human = revision_row(
        "rv000009", revises="ev000001", hit="click", campaign_id="c1", link_id="", previous="unknown",
        verdict="human", reasons=("revised:manual",), at=datetime.now(UTC),
    )  # fmt: skip
    append(rig.outbox, [click(1), human])
    wait_for(lambda: taken(rig, 2))
    assert arrivals(rig.standin) == {"1": 1}
    assert skipped(rig) == {"verdict_revision": 1}
