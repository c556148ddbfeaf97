"""The warehouse row of one event: the one shape every kind of event is stored in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .schema import EVENT_COLUMNS

__all__ = ["EVENT_COLUMN_NAMES", "EventRow"]

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
