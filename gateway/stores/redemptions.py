"""Landing tokens already redeemed: each is good for one identification.

A landing token rides on a URL, and URLs are forwarded, bookmarked and shared. Without this, anyone
holding the link could post it with their own GA client id and be joined to the recipient. The
first ``POST /v1/identify`` of a token records its ``jti`` here with who it identified (a digest
of the client id and user id); another identification with the same token is refused, while the
same one sent again (a retry of a request whose answer was lost) is answered as before.

The record lives in SQLite under the data directory, so every gateway process on the machine
(several ``ga4gw serve`` behind one proxy) sees it; a row is kept until its token expires.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from .sqlite import connect

__all__ = ["Redemptions"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS redeemed (
    jti TEXT PRIMARY KEY,
    identified TEXT NOT NULL,
    expires_at INTEGER NOT NULL
)"""


class Redemptions:
    """``redeem`` a token's ``jti`` once; ``release`` it when the identification could not be stored."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path, synchronous="normal")
        self._conn.execute(_SCHEMA)
        self._conn.execute("CREATE INDEX IF NOT EXISTS redeemed_expiry ON redeemed (expires_at)")
        self._lock = threading.Lock()

    @staticmethod
    def _digest(*parts: str) -> str:
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def redeem(self, jti: str, expires_at: int, now: float, *who: str) -> str:
        """``new`` the first time ``jti`` is redeemed, ``again`` for the same ``who``, ``taken`` for anyone else."""
        identified = self._digest(jti, *who)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM redeemed WHERE expires_at < ?", (int(now),))
                row = self._conn.execute("SELECT identified FROM redeemed WHERE jti = ?", (jti,)).fetchone()
                if row is None:
                    self._conn.execute("INSERT INTO redeemed VALUES (?, ?, ?)", (jti, identified, expires_at))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        if row is None:
            return "new"
        return "again" if row[0] == identified else "taken"

    def release(self, jti: str) -> None:
        """Forget a redemption whose event was not stored, so that the shop may retry."""
        with self._lock:
            self._conn.execute("DELETE FROM redeemed WHERE jti = ?", (jti,))

    def close(self) -> None:
        self._conn.close()
