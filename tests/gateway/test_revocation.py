"""The revocation lists: what is revoked, for how long, and how soon another process sees it."""

from __future__ import annotations

from pathlib import Path

from gateway.stores.revocation import Revocations
from tests.gateway.ga4.conftest import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_entry_lapses_with_the_token_and_a_bare_jti_stays(tmp_path: Path) -> None:
    clock = Clock()
    lists = Revocations(tmp_path / "revoked.sqlite3", clock=clock)
    assert not lists.token_revoked("jti-a")  # no file yet: nothing revoked, nothing created
    assert not (tmp_path / "revoked.sqlite3").exists()
    lists.revoke_token("jti-a", clock.now + 60)
    lists.revoke_token("jti-b", None)
    assert lists.token_revoked("jti-a")
    assert lists.token_revoked("jti-b")
    assert not lists.token_revoked("jti-c")
    clock.now += 61
    assert not lists.token_revoked("jti-a")  # expired: the token is refused as expired anyway
    assert lists.token_revoked("jti-b")
    lists.revoke_token("jti-d", None)  # a write purges what expired
    rows = lists._db().execute("SELECT id FROM revoked ORDER BY id").fetchall()
    assert rows == [("jti-b",), ("jti-d",)]
    lists.close()


def test_a_secret_is_revoked_by_name_and_key_or_by_name_alone(tmp_path: Path) -> None:
    lists = Revocations(tmp_path / "revoked.sqlite3")
    lists.revoke_secret("shop", "k1")
    lists.revoke_secret("crm")
    assert lists.secret_revoked("shop", "k1")
    assert not lists.secret_revoked("shop", "k2")  # a new key's secret for the same sender
    assert lists.secret_revoked("crm", "k1")
    assert lists.secret_revoked("crm", "k9")
    assert not lists.secret_revoked("app", "k1")
    lists.close()


def test_another_process_write_is_seen_within_the_refresh(tmp_path: Path) -> None:
    gateway = Revocations(tmp_path / "revoked.sqlite3")
    cli = Revocations(tmp_path / "revoked.sqlite3")
    cli.revoke_token("warm-up", None)
    assert not gateway.token_revoked("jti-x")  # the gateway has read the file once
    cli.revoke_token("jti-x", None)
    wait_for(lambda: gateway.token_revoked("jti-x"), timeout=10)
    cli.revoke_secret("shop")
    wait_for(lambda: gateway.secret_revoked("shop", "k1"), timeout=10)
    gateway.close()
    cli.close()
