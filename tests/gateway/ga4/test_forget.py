"""Erasure in the delivery ledger, on a real ledger file."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from gateway.ga4.batching import pack
from gateway.ga4.forget import forget
from gateway.ga4.ledger import DeadLetter, Ledger
from gateway.ga4.payloads import Outgoing

NOW = time.time()


def outgoing(event_id: str, user_id: str, client_id: str, *, txn: str = "") -> Outgoing:
    event = {"name": "page_view", "params": {"session_id": "1", "engagement_time_msec": 100, "page": event_id}}
    common = {"client_id": client_id, "user_id": user_id}
    return Outgoing(event_id, NOW - 60, common, (event,), txn)


def take(ledger: Ledger, items: list[Outgoing], dead: list[DeadLetter] = ()) -> None:  # type: ignore[assignment]
    deliveries = pack(items)
    ledger.take(
        deliveries,
        index={o.event_id: (1, o.event_time) for o in items},
        dead=dead,
        transactions=[(o.transaction_id, o.event_id) for o in items if o.transaction_id],
        position=9,
    )


def rows(path: Path, query: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def test_the_subjects_deliveries_letters_and_transactions_go_and_shared_deliveries_are_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    # Ann's own requests (her user id), Bob's, and one on a shared client id without user id: Ann's event e3 and
    # Bob's e4 travel together there (same request-level fields)
    take(
        ledger,
        [
            outgoing("e1", "us_k1_ann", "1.1", txn="T-ann"),
            outgoing("e2", "us_k1_bob", "2.2"),
            outgoing("e3", "", "9.9"),
            outgoing("e4", "", "9.9"),
        ],
    )
    letter = DeadLetter("e5", "invalid", [], outgoing("e5", "us_k1_ann", "1.1").body(), NOW)
    bobs = DeadLetter("e6", "invalid", [], outgoing("e6", "us_k1_bob", "2.2").body(), NOW)
    take(ledger, [], [letter, bobs])
    ledger.close()
    before = rows(path, "SELECT id FROM deliveries ORDER BY id")

    out = forget(path, values={"us_k1_ann", "1.1"}, event_ids={"e3"}, position=12)
    assert out.rows == {
        "ga4_ledger.deliveries": 1,
        "ga4_ledger.deliveries_narrowed": 1,
        "ga4_ledger.dead_letters": 1,
        "ga4_ledger.transactions": 1,
    }
    assert out.event_ids == {"e1", "e3", "e5"}
    assert out.in_flight == 0
    left = rows(path, "SELECT body, idx, mp_events FROM deliveries")
    assert len(left) == len(before) - 1
    text = json.dumps(left)
    assert "us_k1_ann" not in text
    assert '"1.1"' not in text
    assert '"e3"' not in text
    assert "e4" in text
    assert "e2" in text
    shared = [(json.loads(b), json.loads(i), n) for b, i, n in left if "9.9" in b]
    assert shared == [
        ({"client_id": "9.9", "user_id": "", "events": [shared[0][0]["events"][0]]}, [["e4", 1, NOW - 60]], 1)
    ]
    assert rows(path, "SELECT event_id FROM dead_letters") == [("e6",)]
    assert rows(path, "SELECT count(*) FROM transactions") == [(0,)]
    assert rows(path, "SELECT value FROM meta WHERE key = 'position'") == [("12",)]  # never behind the outbox


def test_a_delivery_in_flight_is_left_to_its_sender_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    take(ledger, [outgoing("e1", "us_k1_ann", "1.1")])
    [due] = ledger.claim(10)  # the sender has it
    out = forget(path, values={"us_k1_ann"}, event_ids=set(), wait=0.2)
    assert out.in_flight == 1
    assert out.rows["ga4_ledger.deliveries"] == 0
    ledger.retry(due.id, after=60, status=0, error="refused", ambiguous=False)  # it landed: retrying
    out = forget(path, values={"us_k1_ann"}, event_ids=set(), wait=0.2)
    assert out.in_flight == 0
    assert out.rows["ga4_ledger.deliveries"] == 1
    assert rows(path, "SELECT count(*) FROM deliveries") == [(0,)]
    ledger.close()


def test_no_ledger_file_is_nothing_to_erase(tmp_path: Path) -> None:
    out = forget(tmp_path / "none.sqlite3", values={"x"}, event_ids={"e"})
    assert set(out.rows.values()) == {0}
    assert not (tmp_path / "none.sqlite3").exists()
