"""A landing token identifies once, across every gateway process sharing the data directory."""

from __future__ import annotations

from pathlib import Path

from gateway.stores.redemptions import Redemptions


def test_a_token_is_redeemed_once_and_a_retry_of_the_same_identification_passes(tmp_path: Path) -> None:
    path = tmp_path / "landing_redeemed.sqlite3"
    first, second = Redemptions(path), Redemptions(path)  # two processes' connections to one file
    try:
        assert first.redeem("jti-1", 2000, 1000, "111.1700000000", "") == "new"
        assert second.redeem("jti-1", 2000, 1001, "111.1700000000", "") == "again"
        assert second.redeem("jti-1", 2000, 1002, "999.1700000000", "") == "taken"  # a forwarded link
        assert first.redeem("jti-1", 2000, 1003, "111.1700000000", "crm-9") == "taken"  # another user id
        assert first.redeem("jti-2", 2000, 1004, "999.1700000000", "") == "new"
    finally:
        first.close()
        second.close()


def test_a_released_token_can_be_redeemed_and_expired_ones_are_forgotten(tmp_path: Path) -> None:
    store = Redemptions(tmp_path / "r.sqlite3")
    try:
        assert store.redeem("jti-1", 2000, 1000, "a") == "new"
        store.release("jti-1")  # its event could not be stored: the shop retries
        assert store.redeem("jti-1", 2000, 1001, "b") == "new"
        store.redeem("jti-old", 1500, 1000, "a")
        store.redeem("jti-3", 3000, 1600, "a")  # after jti-old expired: its row goes
        assert store._conn.execute("SELECT jti FROM redeemed ORDER BY jti").fetchall() == [("jti-1",), ("jti-3",)]
    finally:
        store.close()
