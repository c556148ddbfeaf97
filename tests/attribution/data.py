"""Events for attribution tests: journeys written as warehouse rows, and fresh databases to hold them."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from warehouse import EVENT_COLUMN_NAMES, EventRow, Warehouse, migrate

T0 = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = T0 + timedelta(days=60)

# Other channels arrive as visits carrying source / medium; "direct" is a visit with neither.
VISIT_PARAMS = {
    "google / cpc": {"source": "google", "medium": "cpc"},
    "facebook / paid": {"source": "facebook", "medium": "paid"},
    "direct": {},
}


@dataclass(frozen=True)
class Touch:
    """One touch: ``kind`` click, open or visit; ``channel`` for visits; minutes before the conversion."""

    kind: str
    minutes_before: int
    channel: str = "email"
    campaign: str = "c1"
    variant: str = "A"
    verdict: str = "human"


@dataclass(frozen=True)
class Journey:
    person: str
    touches: tuple[Touch, ...]
    converts_at: datetime = T0 + timedelta(days=10)
    revenue: Decimal = Decimal("100")
    converted: bool = True


def journey_events(journey: Journey, prefix: str = "") -> list[EventRow]:
    """The rows of one journey: email events keyed by recipient, shop events by the email pseudonym."""
    rows = []
    for i, touch in enumerate(journey.touches):
        at = journey.converts_at - timedelta(minutes=touch.minutes_before)
        event_id = f"{prefix}{journey.person}-t{i:02d}"
        if touch.kind in ("click", "open"):
            rows.append(
                EventRow(
                    event_id=event_id,
                    event_time=at,
                    received_at=at,
                    event_name=f"email_{touch.kind}",
                    source=touch.kind,
                    campaign_id=touch.campaign,
                    variant=touch.variant,
                    recipient=journey.person,
                    verdict=touch.verdict,
                )
            )
        else:
            params = {"email_pseudonym": journey.person, **VISIT_PARAMS[touch.channel]}
            rows.append(
                EventRow(
                    event_id=event_id,
                    event_time=at,
                    received_at=at,
                    event_name="session_start",
                    source="mp",
                    params=params,
                )
            )
    if journey.converted:
        at = journey.converts_at
        rows.append(
            EventRow(
                event_id=f"{prefix}{journey.person}-buy",
                event_time=at,
                received_at=at,
                event_name="purchase",
                source="server",
                value=journey.revenue,
                currency="EUR",
                transaction_id=f"{prefix}tx-{journey.person}",
                params={"email_pseudonym": journey.person},
            )
        )
    return rows


def insert(wh: Warehouse, rows: Sequence[EventRow]) -> None:
    wh.insert("events", [row.as_tuple() for row in rows], EVENT_COLUMN_NAMES)


@contextlib.contextmanager
def fresh_warehouse(chdb_dir: Path) -> Iterator[Warehouse]:
    """A migrated database of its own on the test process's engine path, dropped afterwards."""
    wh = Warehouse.connect(f"chdb://{chdb_dir}?database=a_{uuid.uuid4().hex[:12]}")
    try:
        migrate(wh)
        yield wh
    finally:
        wh.command(f"DROP DATABASE IF EXISTS `{wh.database}`")
        wh.close()


def credits(wh: Warehouse, *models: str) -> list[tuple[Any, ...]]:
    """Credit rows (model, conversion, touch index, channel, credit rounded, revenue), sorted."""
    return wh.rows(
        "SELECT model, conversion_id, touch_index, channel, campaign_id, round(credit, 9), revenue "
        "FROM attribution_credits WHERE model IN {models:Array(String)} ORDER BY ALL",
        {"models": list(models)},
    )
