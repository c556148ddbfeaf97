"""The warehouse row of one event: the one shape every kind of event is stored in.

A row travels as one JSON array in column order (``to_json``), the form ClickHouse reads as
``JSONCompactEachRow``: the outbox stores it and the writer inserts it as it is, with no
per-row work in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .schema import EVENT_COLUMNS
from .verdicts import PREVIOUS_PARAM, REVISES_PARAM, REVISION_EVENT, REVISION_SOURCE

__all__ = ["EVENT_COLUMN_NAMES", "EventRow", "revision_row"]

EVENT_COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in EVENT_COLUMNS)


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of ``events``, field for field (see ``schema.EVENT_COLUMNS``). Times are aware UTC datetimes."""

    event_id: str
    event_time: datetime
    received_at: datetime
    event_name: str
    source: str
    campaign_id: str = ""
    variant: str = ""
    link_id: str = ""
    recipient: str = ""
    person_id: str = ""
    ga_client_id: str = ""
    user_id: str = ""
    session_id: str = ""
    verdict: str = ""
    verdict_reasons: tuple[str, ...] = ()
    consent: dict[str, str] = field(default_factory=dict)
    ip_truncated: str = ""
    user_agent: str = ""
    url: str = ""
    value: Decimal = Decimal(0)
    currency: str = ""
    transaction_id: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def as_tuple(self) -> tuple[Any, ...]:
        """The row in column order, as the writer inserts it."""
        return tuple(
            list(value) if isinstance(value, tuple) else value
            for value in map(self.__getattribute__, EVENT_COLUMN_NAMES)
        )

    def to_json(self) -> str:
        """The row as a JSON array in column order; times as epoch seconds with milliseconds (strings)."""
        values = list(self.as_tuple())
        for i in _TIMES:
            ms = round(values[i].timestamp() * 1000)
            values[i] = f"{ms // 1000}.{ms % 1000:03d}"
        values[_VALUE] = str(values[_VALUE])
        return json.dumps(values, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> EventRow:
        """The inverse of ``to_json``."""
        values = json.loads(text)
        for i in _TIMES:
            values[i] = datetime.fromtimestamp(float(values[i]), UTC)
        values[_VALUE] = Decimal(values[_VALUE])
        values[_REASONS] = tuple(values[_REASONS])
        return cls(*values)


def revision_row(
    event_id: str,
    *,
    revises: str,
    hit: str,
    campaign_id: str,
    link_id: str,
    previous: str,
    verdict: str,
    reasons: tuple[str, ...],
    at: datetime,
) -> EventRow:
    """The event recording that event ``revises`` (an ``open`` or ``click``: ``hit``) now has ``verdict``.

    It names no person, address or device: the revised row holds those, and erasing them leaves a revision
    that points at nothing. ``warehouse/verdicts.py`` says how views apply it.
    """
    return EventRow(
        event_id=event_id,
        event_time=at,
        received_at=at,
        event_name=REVISION_EVENT,
        source=REVISION_SOURCE,
        campaign_id=campaign_id,
        link_id=link_id,
        verdict=verdict,
        verdict_reasons=reasons,
        params={REVISES_PARAM: revises, PREVIOUS_PARAM: previous, "hit": hit},
    )


_TIMES = (EVENT_COLUMN_NAMES.index("event_time"), EVENT_COLUMN_NAMES.index("received_at"))
_VALUE = EVENT_COLUMN_NAMES.index("value")
_REASONS = EVENT_COLUMN_NAMES.index("verdict_reasons")
