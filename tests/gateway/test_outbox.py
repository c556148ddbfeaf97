from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from gateway.stores.outbox import Outbox


def _append_all(outbox: Outbox, payloads: list[str]) -> list[bool]:
    async def run() -> list[bool]:
        return list(await asyncio.gather(*(outbox.append(f"id-{p}", p) for p in payloads)))

    return asyncio.run(run())


def test_appended_events_are_committed_before_the_future_resolves(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    assert _append_all(outbox, [f"p{i}" for i in range(500)]) == [True] * 500
    # Another connection sees every row the moment the futures resolved.
    stored = sqlite3.connect(tmp_path / "o.sqlite3").execute("SELECT count(*) FROM outbox").fetchone()[0]
    assert stored == 500
    assert outbox.pending("warehouse") == 500
    outbox.close()


def test_consumers_read_in_order_and_positions_survive_restart(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path, consumers=("warehouse", "ga4"))
    _append_all(outbox, [f"p{i}" for i in range(10)])
    first = outbox.read("warehouse", 4)
    assert [r.payload for r in first] == ["p0", "p1", "p2", "p3"]
    assert [r.event_id for r in first] == ["id-p0", "id-p1", "id-p2", "id-p3"]
    outbox.ack("warehouse", first[-1].id)
    outbox.close()

    reopened = Outbox(path, consumers=("warehouse", "ga4"))
    assert [r.payload for r in reopened.read("warehouse", 100)] == [f"p{i}" for i in range(4, 10)]
    assert len(reopened.read("ga4", 100)) == 10  # the slower consumer still has everything
    reopened.close()


def test_rows_are_deleted_once_every_consumer_passed_and_ids_never_go_back(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path)
    _append_all(outbox, ["a", "b", "c"])
    last = outbox.read("warehouse", 10)[-1].id
    outbox.ack("warehouse", last)
    assert sqlite3.connect(path).execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    outbox.close()

    # Restart with an empty table: new rows must still come after the consumer's position.
    reopened = Outbox(path)
    _append_all(reopened, ["d"])
    assert [r.payload for r in reopened.read("warehouse", 10)] == ["d"]
    assert reopened.read("warehouse", 10)[0].id > last
    reopened.close()


def test_a_full_outbox_refuses_instead_of_growing(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", max_events=1000)
    results = _append_all(outbox, [f"p{i}" for i in range(1200)])
    assert results.count(True) == 1000
    assert results.count(False) == 200
    assert outbox.full()
    records = outbox.read("warehouse", 600)
    outbox.ack("warehouse", records[-1].id)
    assert not outbox.full()
    assert _append_all(outbox, ["again"]) == [True]
    outbox.close()


def test_oldest_created_tracks_the_consumer(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    assert outbox.oldest_created("warehouse") is None
    _append_all(outbox, ["a"])
    created = outbox.oldest_created("warehouse")
    assert created is not None
    assert created > 0
    outbox.close()


def test_forget_deletes_matching_rows_whatever_consumer_passed_them_and_skips_erased_gaps(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", consumers=("warehouse", "ga4"))
    _append_all(outbox, ["keep-1", "ann-2", "ann-3", "keep-4", "ann-5", "keep-ann-6"])
    first = outbox.read("warehouse", 2)
    outbox.ack("warehouse", first[-1].id)  # the warehouse passed keep-1 and ann-2; ga4 has passed nothing
    # the needle also finds keep-ann-6: the parsed payload decides, not the substring
    gone = outbox.forget(lambda payload: payload.startswith("ann"), ["ann"])
    assert sorted(gone) == ["id-ann-2", "id-ann-3", "id-ann-5"]
    assert [r.payload for r in outbox.read("warehouse", 10)] == ["keep-4", "keep-ann-6"]  # moved past ann-3
    assert [r.payload for r in outbox.read("ga4", 10)] == ["keep-1", "keep-4", "keep-ann-6"]
    assert outbox.position("warehouse") == first[-1].id + 1
    assert outbox.forget(lambda payload: True, []) == []  # no needle: nothing to look for
    outbox.close()
    rows = sqlite3.connect(tmp_path / "o.sqlite3").execute("SELECT payload FROM outbox ORDER BY id").fetchall()
    assert rows == [("keep-1",), ("keep-4",), ("keep-ann-6",)]


def test_a_record_sqlite_cannot_encode_fails_alone_and_the_writer_goes_on(tmp_path: Path) -> None:
    """Issue 11, critical 3: a lone surrogate once ended the writer thread, and every click after it hung."""
    outbox = Outbox(tmp_path / "o.sqlite3")

    async def run() -> list[object]:
        futures = [outbox.append(f"id-{p}", p) for p in ("before", "bad \ud800", "after")]
        return list(await asyncio.gather(*futures, return_exceptions=True))

    before, bad, after = asyncio.run(run())
    assert before is True
    assert after is True
    assert isinstance(bad, UnicodeEncodeError)
    assert _append_all(outbox, ["later"]) == [True]  # the thread still takes records
    assert [r.payload for r in outbox.read("warehouse", 10)] == ["before", "after", "later"]
    assert [r.id for r in outbox.read("warehouse", 10)] == [1, 2, 3]  # no id went to the refused record
    assert outbox.health(0.0, 60) == ""
    outbox.close()
    assert outbox.health(0.0, 60) == ""  # stopped on purpose: not a problem
