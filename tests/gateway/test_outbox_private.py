"""The outbox's private column: what the relay sends but the warehouse pipeline must never read (MP user_data)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from gateway.stores.outbox import Outbox

SECRET = '{"user_data":{"sha256_email_address":["' + "ab" * 32 + '"]},"ip_override":"203.0.113.77"}'


def _append(outbox: Outbox, rows: list[tuple[str, str, str | None]]) -> None:
    async def run() -> list[bool]:
        return list(await asyncio.gather(*(outbox.append(e, p, private) for e, p, private in rows)))

    assert all(asyncio.run(run()))


def test_the_private_part_commits_with_the_row_and_only_the_relay_reads_it(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", consumers=("warehouse", "ga4"))
    _append(outbox, [("e1", '["e1"]', SECRET), ("e2", '["e2"]', None)])
    for_warehouse = outbox.read("warehouse", 10)
    assert [r.private for r in for_warehouse] == [None, None]  # the pipeline's read never selects it
    assert all("203.0.113.77" not in r.payload and "ab" * 32 not in r.payload for r in for_warehouse)
    for_relay = outbox.read_after(0, 10)
    assert [r.private for r in for_relay] == [SECRET, None]
    assert outbox.clear_private(for_relay[-1].id) == 1
    assert [r.private for r in outbox.read_after(0, 10)] == [None, None]
    assert [r.payload for r in outbox.read_after(0, 10)] == ['["e1"]', '["e2"]']  # the events themselves stay
    outbox.close()
    assert not (tmp_path / "o.sqlite3-wal").exists()  # checkpointed at close
    assert b"203.0.113.77" not in (tmp_path / "o.sqlite3").read_bytes()  # overwritten, not merely freed


def test_an_outbox_from_before_the_column_gets_it(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY, created REAL NOT NULL, event_id TEXT NOT NULL, payload TEXT "
        "NOT NULL); CREATE TABLE positions (consumer TEXT PRIMARY KEY, last_id INTEGER NOT NULL);"
        "INSERT INTO outbox VALUES (1, 0, 'old', '[\"old\"]');"
    )
    conn.close()
    outbox = Outbox(path)
    _append(outbox, [("new", '["new"]', SECRET)])
    assert [(r.event_id, r.private) for r in outbox.read_after(0, 10)] == [("old", None), ("new", SECRET)]
    outbox.close()


def test_erasure_finds_a_row_by_its_private_part(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", consumers=("warehouse", "ga4"))
    _append(outbox, [("e1", '["e1","555.666"]', SECRET), ("e2", '["e2","555.666"]', None)])
    # The payload names nobody the erasure knows; the hashed email in the private part does.
    gone = outbox.forget(lambda payload: False, [], ['"' + "ab" * 32 + '"'])
    assert gone == ["e1"]
    assert [r.event_id for r in outbox.read_after(0, 10)] == ["e2"]
    outbox.close()
