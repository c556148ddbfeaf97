"""What the soak reads to judge a run: the warehouse's clicks, the stand-in's arrivals, the outbox's depth.

Every count comes from the real stores, read from outside the gateway: the warehouse through the
gateway's ClickHouse HTTP interface, the outbox and the GA4 ledger as the SQLite files they are (opened
read-only: a reader never blocks the gateway's WAL writer), and the MP stand-in's own record of each
request it answered.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path

from benchmarks.harness import Gateway
from gateway.ga4.standin import StandIn

_N = re.compile(r"[?&]n=(\d+)")
# Every verdict relayed: each stored click then has exactly one GA4 counterpart, whatever the classifier said.
ALL_VERDICTS = "human,image_proxy,apple_mpp,scanner,prefetch,unknown"


def ga4_settings(standin: StandIn) -> dict[str, str]:
    """The gateway's settings to relay every click at once to ``standin``."""
    return {
        "GA4GW_GA4_MEASUREMENT_ID": "G-SOAK",
        "GA4GW_GA4_API_SECRET": "soak",
        "GA4GW_GA4_ORIGIN": standin.url,
        "GA4GW_GA4_SETTLE_SECONDS": "0",
        "GA4GW_GA4_RELAY_VERDICTS": ALL_VERDICTS,
        # A region where every purpose is granted: each click then goes with its recipient's user id.
        "GA4GW_CONSENT_DEFAULT_REGION": "US",
    }


@dataclass
class Counts:
    """One run's figures; trials add up."""

    acknowledged: int = 0  # clicks answered 302 (their n read from the Location)
    stored: int = 0  # distinct clicks (by n) in the warehouse
    missing: int = 0  # acknowledged, not stored: must be 0
    extra: int = 0  # stored, never acknowledged (committed; the answer died with the process)
    rows: int = 0  # email_click rows without FINAL
    rows_final: int = 0  # with FINAL (ReplacingMergeTree collapses a batch written twice)
    doubled: int = 0  # FINAL rows beyond one per click: a click stored under two event ids
    ga4_events: int = 0  # email_click events the stand-in answered 2xx
    ga4_distinct: int = 0  # distinct GA4 user ids among them (one recipient per click)
    ga4_twice: int = 0  # events relayed more than once
    ga4_missing: int = 0  # stored clicks GA4 never received
    ga4_dead: int = 0  # deliveries the relay gave up on (dead letters)
    ga4_possible: int = 0  # clicks in requests the ledger counts as possibly duplicated (ambiguous attempts)

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def acknowledged(path: Path) -> set[int]:
    return {int(line) for line in path.read_text().split()} if path.exists() else set()


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


@dataclass(frozen=True)
class Depth:
    """The outbox as the gateway left it on disk at one moment."""

    held: int  # rows in the outbox file (appended, not yet pruned)
    warehouse: int  # rows the warehouse consumer has not passed
    ga4: int  # rows the GA4 relay has not taken
    ga4_queued: int  # relay requests waiting to be sent (pending or retrying)
    ga4_oldest_age: float  # seconds since the oldest waiting request's oldest event (0 when none)


def depth(data_dir: Path) -> Depth | None:
    """The outbox's depth from its SQLite files; None while they do not exist yet or are locked."""
    try:
        with _ro(data_dir / "outbox.sqlite3") as db:
            low, high = db.execute("SELECT min(id), max(id) FROM outbox").fetchone()
            positions = dict(db.execute("SELECT consumer, last_id FROM positions").fetchall())
        with _ro(data_dir / "ga4_ledger.sqlite3") as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'position'").fetchone()
            taken = int(row[0]) if row else 0
            queued, oldest = db.execute(
                "SELECT count(*), min(oldest) FROM deliveries WHERE state IN ('pending', 'retrying')"
            ).fetchone()
    except sqlite3.Error:
        return None
    high = high or 0
    held = high - low + 1 if low is not None else 0
    age = time.time() - oldest if oldest else 0.0
    return Depth(held, high - positions.get("warehouse", high), high - max(taken, positions.get("ga4", 0)),
                 queued, age)  # fmt: skip


def ga4_drained(data_dir: Path, timeout: float) -> bool:
    """Wait until the relay has taken every outbox row and sent every request; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = depth(data_dir)
        if now is not None and now.ga4 <= 0 and now.ga4_queued == 0:
            return True
        time.sleep(0.25)
    return False


def ledger_counts(data_dir: Path) -> tuple[int, int]:
    """(dead deliveries, clicks in deliveries with an ambiguous attempt): what the gateway itself admits."""
    with _ro(data_dir / "ga4_ledger.sqlite3") as db:
        dead = db.execute("SELECT count(*) FROM deliveries WHERE state = 'dead'").fetchone()[0]
        idx = db.execute("SELECT idx FROM deliveries WHERE ambiguous > 0").fetchall()
    return int(dead), sum(len(json.loads(row[0])) for row in idx)


def count(gateway: Gateway, acked: set[int], standin: StandIn) -> Counts:
    """Compare the acknowledged clicks with the warehouse (with and without FINAL) and the stand-in."""
    clicks = "FROM events {} WHERE event_name = 'email_click'"
    rows = gateway.sql(f"SELECT url {clicks.format('FINAL')}")
    plain = gateway.sql(f"SELECT count() AS c {clicks.format('')}")
    numbers = [int(m.group(1)) for row in rows if (m := _N.search(str(row["url"])))]
    stored = set(numbers)
    users = Counter(
        str(body.get("user_id", ""))
        for request in standin.requests()
        if 200 <= request.answered < 300 and request.path == "/mp/collect" and isinstance(request.body, dict)
        for body in [request.body]
        for event in body.get("events", [])
        if event.get("name") == "email_click"
    )
    ga4_events = sum(users.values())
    dead, possible = ledger_counts(gateway.data_dir)
    return Counts(
        acknowledged=len(acked),
        stored=len(stored),
        missing=len(acked - stored),
        extra=len(stored - acked),
        rows=int(plain[0]["c"]),  # type: ignore[call-overload]
        rows_final=len(rows),
        doubled=len(numbers) - len(stored),
        ga4_events=ga4_events,
        ga4_distinct=len(users),
        ga4_twice=ga4_events - len(users),
        ga4_missing=max(0, len(stored) - len(users)),
        ga4_dead=dead,
        ga4_possible=possible,
    )
