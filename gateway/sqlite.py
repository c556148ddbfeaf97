"""The local store's SQLite connections: WAL, autocommit (transactions are explicit), a long busy wait."""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["connect"]


def connect(path: Path, synchronous: str = "full") -> sqlite3.Connection:
    """A connection for any thread; ``synchronous`` is ``full`` (survives power loss) or ``normal`` (a crash)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn
