from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from warehouse import (
    EVENT_COLUMN_NAMES,
    EventRow,
    EventWriter,
    QueryError,
    RowsRefused,
    Warehouse,
    batch_token,
    migrate,
)

T0 = datetime(2026, 11, 1, 12, 0, 0, 123000, tzinfo=UTC)


def _row(i: int, **fields: object) -> EventRow:
    base: dict[str, object] = {
        "event_id": f"ev-{i:05d}",
        "event_time": T0 + timedelta(seconds=i),
        "received_at": T0 + timedelta(seconds=i, milliseconds=5),
        "event_name": "email_click",
        "source": "click",
        "campaign_id": "spring",
    }
    base.update(fields)
    return EventRow(**base)  # type: ignore[arg-type]


def test_row_fields_follow_the_table_columns() -> None:
    assert tuple(EventRow.__dataclass_fields__) == EVENT_COLUMN_NAMES


def test_every_column_round_trips(warehouse: Warehouse) -> None:
    migrate(warehouse)
    row = _row(
        1,
        variant="B",
        link_id="3",
        recipient="sub-991",
        person_id="p1",
        ga_client_id="123.456",
        user_id="u1",
        session_id="1700000000",
        verdict="apple_mpp",
        verdict_reasons=("apple_network", "sent_ago_s<3600"),
        consent={"analytics_storage": "granted"},
        ip_truncated="203.0.113.0",
        user_agent="Mozilla/5.0",
        url="https://shop.example/p?a=1",
        value=Decimal("19.99"),
        currency="EUR",
        transaction_id="T-1",
        params={"utm_source": "newsletter"},
    )
    EventWriter(warehouse).write([row])
    stored = warehouse.rows("SELECT * FROM events")[0]
    expected = list(row.as_tuple())
    for i in (1, 2):  # chDB gives naive UTC datetimes
        expected[i] = expected[i].replace(tzinfo=None)
    actual = [v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in stored]
    assert actual == expected


def test_the_same_batch_twice_leaves_one_row_per_event(warehouse: Warehouse) -> None:
    migrate(warehouse)
    rows = [_row(i) for i in range(50)]
    writer = EventWriter(warehouse, batch_rows=20)
    assert writer.write(rows) == 50
    assert writer.write(list(reversed(rows))) == 50  # a retry: same events, any order
    # No FINAL: the insert deduplication tokens dropped the second copy at insert time.
    assert warehouse.rows("SELECT count(), uniqExact(event_id) FROM events") == [(50, 50)]


def test_overlapping_batches_collapse_under_final(warehouse: Warehouse) -> None:
    migrate(warehouse)
    writer = EventWriter(warehouse)
    writer.write([_row(i) for i in range(0, 30)])
    writer.write([_row(i) for i in range(20, 40)])  # 10 events again, in another grouping
    assert warehouse.scalar("SELECT count() FROM events FINAL") == 40
    warehouse.command("OPTIMIZE TABLE events FINAL")
    assert warehouse.scalar("SELECT count() FROM events") == 40


def test_batch_token_ignores_order() -> None:
    assert batch_token(["b", "a"]) == batch_token(["a", "b"])
    assert batch_token(["a", "b"]) != batch_token(["a", "b", "c"])
    assert batch_token(["ab", "c"]) != batch_token(["a", "bc"])


def test_buffer_flushes_by_size_and_by_age(warehouse: Warehouse) -> None:
    migrate(warehouse)
    now = [0.0]
    writer = EventWriter(warehouse, batch_rows=3, max_delay=1.0, clock=lambda: now[0])
    assert writer.add(_row(1)) == 0
    assert writer.add(_row(2)) == 0
    assert writer.add(_row(3)) == 3  # full
    assert writer.add(_row(4)) == 0
    now[0] = 0.5
    assert not writer.due()
    now[0] = 1.0
    assert writer.due()
    assert writer.flush() == 1
    assert writer.buffered == 0
    assert warehouse.scalar("SELECT count() FROM events") == 4


def test_rows_the_warehouse_refuses_are_set_apart_and_the_rest_stored_once(warehouse: Warehouse) -> None:
    """Issue 11, high 4: one row worth 1e30 made every insert of its batch fail, for good."""
    migrate(warehouse)
    rows = [_row(i) for i in range(50)]
    texts = [(r.event_id, r.to_json()) for r in rows]
    texts[7] = (rows[7].event_id, _row(7, value=Decimal("1E+30")).to_json())
    texts[31] = (rows[31].event_id, texts[31][1].replace('"17', '"', 1))  # a time before 1973: unreadable
    writer = EventWriter(warehouse, batch_rows=1000)
    refused = writer.write_isolating(texts)
    assert [(r.event_id, r.code) for r in refused] == [("ev-00007", 69), ("ev-00031", 41)]
    assert refused[0].name == "ARGUMENT_OUT_OF_BOUND"
    assert refused[0].payload == texts[7][1]
    assert warehouse.scalar("SELECT count() FROM events") == 48
    again = writer.write_isolating(texts)  # the same halves, the same tokens: nothing stored twice
    assert [r.event_id for r in again] == ["ev-00007", "ev-00031"]
    assert warehouse.scalar("SELECT count() FROM events") == 48


def test_an_insert_that_fails_for_another_reason_is_raised_not_set_apart(warehouse: Warehouse) -> None:
    migrate(warehouse)
    with pytest.raises(QueryError) as failed:
        EventWriter(warehouse, table="no_such_table").write_isolating([("ev-1", _row(1).to_json())])
    assert not isinstance(failed.value, RowsRefused)
