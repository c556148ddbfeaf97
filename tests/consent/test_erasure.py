from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consent import (
    AuditRecord,
    ConsentEvent,
    ConsentLedger,
    InvalidConsent,
    Purpose,
    Subject,
    erase_subject,
    new_erasure_id,
    record_audit,
    subject_events,
)
from warehouse import EVENT_COLUMN_NAMES, EventRow, Refused, Warehouse, migrate, quarantine

NOW = datetime.now(UTC).replace(microsecond=0)  # inside the retention TTL


def row(event_id: str, **fields: object) -> EventRow:
    base: dict[str, object] = {
        "event_id": event_id,
        "event_time": NOW,
        "received_at": NOW,
        "event_name": "email_click",
        "source": "click",
    }
    base.update(fields)
    return EventRow(**base)  # type: ignore[arg-type]


ANN = Subject(
    identifiers=frozenset({"email:em_k1_ann", "recipient:rc_k1_ann", "ga_client:1.1"}),
    people=frozenset({"em_k1_ann", "rc_k1_ann", "sub-ann"}),
    devices=frozenset({"1.1"}),
)


def test_an_empty_value_is_refused_it_would_match_every_empty_column() -> None:
    with pytest.raises(InvalidConsent):
        Subject(frozenset(), frozenset({""}))


def test_erase_subject_deletes_every_row_naming_the_person_and_only_those(warehouse: Warehouse) -> None:
    migrate(warehouse)
    rows = [
        row("e1", recipient="sub-ann", ga_client_id="9.9"),  # Ann on the shared device
        row("e2", recipient="sub-bob", ga_client_id="9.9"),  # Bob on the shared device: stays
        row("e3", source="server", event_name="purchase", ga_client_id="1.1", transaction_id="T1"),
        row("e4", source="identify", params={"recipient_pseudonym": "rc_k1_ann"}),
        row("e5", source="server", event_name="page_view", params={"email_pseudonym": "em_k1_bob"}),
    ]
    warehouse.insert("events", [r.as_tuple() for r in rows], EVENT_COLUMN_NAMES)
    warehouse.insert(
        "identity_edges",
        [
            (NOW, "recipient", "rc_k1_ann", "ga_client", "9.9", "click", NOW),
            (NOW, "recipient", "rc_k1_bob", "ga_client", "9.9", "click", NOW),
            (NOW, "email", "em_k1_ann", "ga_client", "1.1", "server", NOW),
        ],
        ["edge_time", "a_kind", "a_value", "b_kind", "b_value", "source", "recorded_at"],
    )
    ConsentLedger(warehouse).append(
        ConsentEvent(s, Purpose.AD_STORAGE, True, "api", NOW) for s in ("em_k1_ann", "1.1", "9.9", "em_k1_bob")
    )
    warehouse.insert(
        "ga4_deliveries",
        [("d1", e, "x", NOW, "sent", "", 1, 0, 204, NOW, NOW) for e in ("e1", "e2")],
        [
            "delivery_id",
            "event_id",
            "event_name",
            "event_time",
            "state",
            "reason",
            "attempts",
            "ambiguous_attempts",
            "http_status",
            "queued_at",
            "finished_at",
        ],
    )
    touches = [("tx:T1", 1, "em_k1_ann", "e1"), ("tx:T1", 1, "em_k1_ann", "e3"), ("ev:e9", 1, "em_k1_bob", "e5")]
    warehouse.insert(
        "attribution_touches",
        [(j, c, p, NOW, t) for j, c, p, t in touches],
        ["journey_id", "converted", "person_key", "conversion_time", "touch_event_id"],
    )
    warehouse.insert(
        "attribution_credits",
        [("tx:T1", NOW, "em_k1_ann", "e1"), ("ev:e9", NOW, "em_k1_bob", "e5")],
        ["conversion_id", "conversion_time", "person_key", "touch_event_id"],
    )

    refused = [row("q1", recipient="sub-ann"), row("q2", recipient="sub-bob")]  # set apart by the pipeline
    quarantine(warehouse, [Refused(r.event_id, r.to_json(), 69, "ARGUMENT_OUT_OF_BOUND", "") for r in refused], NOW)
    ids, transactions = subject_events(warehouse, ANN)
    assert ids == {"e1", "e3", "e4"}
    assert transactions == {"T1"}
    counts = erase_subject(warehouse, ANN, ids, transactions)
    assert counts == {
        "attribution_touches": 2,
        "attribution_credits": 1,
        "ga4_deliveries": 1,
        "consent_events": 2,
        "identity_edges": 2,
        "events_quarantine": 1,
        "events": 3,
    }
    assert warehouse.rows("SELECT event_id FROM events_quarantine") == [("q2",)]
    assert sorted(r[0] for r in warehouse.rows("SELECT event_id FROM events")) == ["e2", "e5"]
    assert warehouse.rows("SELECT a_value FROM identity_edges") == [("rc_k1_bob",)]
    assert sorted(r[0] for r in warehouse.rows("SELECT subject FROM consent_events")) == ["9.9", "em_k1_bob"]
    assert warehouse.rows("SELECT event_id FROM ga4_deliveries") == [("e2",)]
    assert warehouse.rows("SELECT journey_id FROM attribution_touches") == [("ev:e9",)]
    assert warehouse.rows("SELECT conversion_id FROM attribution_credits") == [("ev:e9",)]
    again = erase_subject(warehouse, ANN, set(), set())
    assert set(again.values()) == {0}  # nothing left to find: nothing touched


def test_the_audit_row_holds_counts_not_identifiers(warehouse: Warehouse) -> None:
    migrate(warehouse)
    erasure_id = new_erasure_id()
    record_audit(
        warehouse, AuditRecord(erasure_id, "operator", "x" * 600, 3, {"events": 4}, "done", NOW - timedelta(days=1))
    )
    [(stored, who, reason, identifiers, counts, status)] = warehouse.rows(
        "SELECT erasure_id, requested_by, reason, identifiers, rows, status FROM erasure_audit"
    )
    assert (stored, who, len(reason), identifiers, counts, status) == (
        erasure_id,
        "operator",
        500,
        3,
        {"events": 4},
        "done",
    )
    assert erasure_id.startswith("er_")
    assert erasure_id != new_erasure_id()
    ttl = warehouse.scalar(
        "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = 'erasure_audit'"
    )
    assert "TTL" not in ttl  # kept beyond the data's retention: see warehouse.erasure_schema


def test_no_mutation_text_names_the_person_and_no_key_table_is_left(warehouse: Warehouse) -> None:
    """system.mutations keeps every mutation's text after it finished: values must not be written into it."""
    migrate(warehouse)
    rows = [row("e1", recipient="sub-ann", ga_client_id="1.1"), row("e2", recipient="sub-bob", ga_client_id="9.9")]
    warehouse.insert("events", [r.as_tuple() for r in rows], EVENT_COLUMN_NAMES)
    ids, transactions = subject_events(warehouse, ANN)
    assert erase_subject(warehouse, ANN, ids, transactions)["events"] == 1
    commands = warehouse.rows(
        "SELECT table, command FROM system.mutations WHERE database = {db:String}", {"db": warehouse.database}
    )
    assert [t for t, _ in commands] == ["events"]
    assert not any(v in c for _, c in commands for v in ANN.values + sorted(ANN.identifiers))
    tables = warehouse.rows("SELECT name FROM system.tables WHERE database = {db:String}", {"db": warehouse.database})
    assert not [t for (t,) in tables if t.startswith("erasure_keys")]
    assert warehouse.rows("SELECT event_id FROM events") == [("e2",)]


def test_a_reason_with_a_lone_surrogate_is_still_recorded(warehouse: Warehouse) -> None:
    migrate(warehouse)
    record_audit(warehouse, AuditRecord(new_erasure_id(), "operator", "ticket \ud800 7", 1, {"events": 1}, "done"))
    assert warehouse.rows("SELECT reason FROM erasure_audit") == [("ticket ? 7",)]
