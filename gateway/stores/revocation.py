"""Revoked API tokens and MP api_secrets: a small SQLite file every gateway process and the CLI reach.

``<data_dir>/revoked.sqlite3`` holds one row per revocation, and never a token or a secret itself:

    token    the token's ``jti``; the row expires with the token (``exp``), after which the token is refused anyway
             (a bare jti, whose expiry is unknown, is kept for good)
    secret   ``<name>.<key id>`` (one issued secret) or ``<name>`` (every secret of that sender, under any key);
             secrets do not expire, and neither do these rows

``ga4gw token revoke`` and ``ga4gw ga4 secret revoke`` write it directly, whether or not a gateway runs (SQLite
lets them write beside a running gateway). A running gateway keeps the lists in memory and looks at the file's
``PRAGMA data_version`` at most once a second, reloading when another process wrote: a revocation is obeyed
within about a second, at the cost of one cheap query a second on the request path. Gateways on other machines
with their own data directories need the same command run against each (or a shared data directory).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .sqlite import connect

__all__ = ["FILE_NAME", "Revocations"]

FILE_NAME = "revoked.sqlite3"
_REFRESH = 1.0  # seconds between looks at the file: how soon a revocation is obeyed
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS revoked (kind TEXT NOT NULL, id TEXT NOT NULL, expires_at REAL, "
    "revoked_at REAL NOT NULL, PRIMARY KEY (kind, id))"
)


class Revocations:
    """The revocation lists of one data directory. Safe to share between threads; opens the file on first use."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._version = -1
        self._checked = float("-inf")
        self._tokens: dict[str, float] = {}  # jti -> expiry (inf: never)
        self._secrets: frozenset[str] = frozenset()

    @classmethod
    def in_dir(cls, data_dir: Path) -> Revocations:
        return cls(data_dir / FILE_NAME)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = connect(self.path)
            self._conn.execute(_SCHEMA)
        return self._conn

    def revoke_token(self, jti: str, expires_at: float | None) -> None:
        """Refuse the token with this ``jti`` from now on (until ``expires_at``, its ``exp``; None: for good)."""
        self._write("token", jti, expires_at)

    def revoke_secret(self, name: str, kid: str = "") -> None:
        """Refuse the api_secret of sender ``name`` under key ``kid`` (every key when ``kid`` is empty)."""
        self._write("secret", f"{name}.{kid}" if kid else name, None)

    def _write(self, kind: str, ident: str, expires_at: float | None) -> None:
        if not ident:
            raise ValueError("nothing to revoke")
        now = self._clock()
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM revoked WHERE expires_at IS NOT NULL AND expires_at < ?", (now,))
                db.execute(
                    "INSERT INTO revoked (kind, id, expires_at, revoked_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (kind, id) DO UPDATE SET expires_at = excluded.expires_at",
                    (kind, ident, expires_at, now),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._checked = float("-inf")  # this process sees its own write at once

    def token_revoked(self, jti: str) -> bool:
        """True when the token with this ``jti`` was revoked (and has not expired since)."""
        self._refresh()
        return self._tokens.get(jti, float("-inf")) >= self._clock()

    def secret_revoked(self, name: str, kid: str) -> bool:
        """True when sender ``name``'s secret under ``kid``, or every secret of ``name``, was revoked."""
        self._refresh()
        return name in self._secrets or f"{name}.{kid}" in self._secrets

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < _REFRESH:
            return
        with self._lock:
            if not self.path.exists() and self._conn is None:  # nothing revoked yet: no file to create
                self._checked = now
                return
            db = self._db()
            version = int(db.execute("PRAGMA data_version").fetchone()[0])
            if version != self._version or self._checked == float("-inf"):
                rows = db.execute("SELECT kind, id, expires_at FROM revoked").fetchall()
                self._tokens = {i: float("inf") if e is None else float(e) for k, i, e in rows if k == "token"}
                self._secrets = frozenset(i for k, i, _ in rows if k == "secret")
                self._version = version
            self._checked = now

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
