"""The local store's SQLite connections: WAL, autocommit (transactions are explicit), a long busy wait."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

__all__ = ["connect"]


def connect(path: Path, synchronous: str = "full") -> sqlite3.Connection:
    """A connection for any thread; ``synchronous`` is ``full`` (survives power loss) or ``normal`` (a crash)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    for attempt in range(100):
        # Switching a new file to WAL needs a lock the busy timeout does not wait for: two connections
        # opening the same new file at once (the relay and `ga4gw ga4 status`, say) can collide here.
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)
    conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn
