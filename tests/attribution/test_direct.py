"""Direct visits as GA writes them, and which page views are landings: journeys built on the real engine."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from attribution import AttributionConfig, run_attribution
from warehouse import EventRow, Warehouse

from .data import T0, UNTIL, insert

AT = T0 + timedelta(days=3)


def _row(person: str, minutes: int, name: str, source: str = "server", **fields: object) -> EventRow:
    at = AT + timedelta(minutes=minutes)
    return EventRow(event_id=f"{person}-{minutes}-{name}", event_time=at, received_at=at, event_name=name,
                    source=source, person_id=person, **fields)  # type: ignore[arg-type]  # fmt: skip


def _buy(person: str, minutes: int) -> EventRow:
    return _row(person, minutes, "purchase", value=Decimal(10), currency="EUR", transaction_id=f"T-{person}")


def test_direct_conventions_landings_and_last_non_direct(warehouse: Warehouse) -> None:
    insert(warehouse, [
        # Ann: a landing sent as a session start and a page view at the same moment, a page of that session,
        # and 40 minutes later a new landing: two direct touches.
        _row("ann", 0, "page_view"), _row("ann", 0, "session_start"), _row("ann", 5, "page_view"),
        _row("ann", 45, "page_view"), _buy("ann", 50),
        # Bob: the page after an email click is the click's landing, not a direct visit.
        _row("bob", 0, "email_click", source="click", recipient="bob", campaign_id="c", verdict="human"),
        _row("bob", 1, "page_view"), _buy("bob", 10),
        # Cy: GA's spellings of direct, in capitals too.
        _row("cy", 0, "session_start", params={"source": "(not set)", "medium": "(not set)"}),
        _row("cy", 60, "page_view", source="mp", params={"source": "(DIRECT)", "medium": "(None)"}), _buy("cy", 70),
        # Dee: a paid search visit, then a direct one; a landing of the email's medium is its click, left out.
        _row("dee", 0, "session_start", params={"source": "Google", "medium": "CPC"}),
        _row("dee", 60, "session_start", params={"source": "newsletter", "medium": "email"}),
        _row("dee", 120, "session_start", params={"source": "(direct)", "medium": "(none)"}), _buy("dee", 130),
        # Eve: the shop's session start without a source, sent for the session the email click opened, is that
        # click's landing (GA4 would give the session to the email), not a direct visit after it.
        _row("eve", 0, "email_click", source="click", recipient="eve", campaign_id="c", verdict="human"),
        _row("eve", 1, "session_start"), _row("eve", 2, "page_view"), _buy("eve", 10),
    ])  # fmt: skip
    run_attribution(warehouse, AttributionConfig(), models=("last_touch", "last_non_direct"), until=UNTIL)
    paths = warehouse.rows("SELECT transaction_id, path, default_path FROM attribution_paths ORDER BY ALL")
    assert paths == [
        ("T-ann", "direct > direct", "Direct > Direct"),
        ("T-bob", "email", "Email"),
        ("T-cy", "direct > direct", "Direct > Direct"),
        ("T-dee", "google / cpc > direct", "Paid Search > Direct"),
        ("T-eve", "email", "Email"),
    ]
    ann = warehouse.rows("SELECT touch_event_id FROM attribution_touches WHERE person_key = 'ann' ORDER BY ALL")
    assert ann == [("ann-0-session_start",), ("ann-45-page_view",)]
    credited = warehouse.rows(
        "SELECT model, channel, sum(credit) FROM attribution_credits WHERE conversion_id = 'tx:T-dee' GROUP BY ALL "
        "ORDER BY ALL"
    )
    assert credited == [("last_non_direct", "google / cpc", 1.0), ("last_touch", "direct", 1.0)]
