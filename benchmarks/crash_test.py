"""kill -9 during load: no acknowledged click may be missing from the warehouse afterwards.

    .venv/bin/python -m benchmarks.crash_test [--runs 20] [--connections 32]

Each run: a fresh data directory; the gateway (CPU 0) under wrk (CPU 1) where every request is a
distinct signed click whose destination carries a sequence number n; wrk writes the n of every 302
it receives. About 1.5 s in, the gateway gets SIGKILL. It is restarted on the same directory, and
once its outbox has drained, the stored clicks are compared with the acknowledged ones:
missing (acknowledged, not stored) must be 0; extra (stored, never acknowledged: committed, but the
answer died with the process) may be at most the number of connections open at the kill.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import LUA, Gateway, ensure_wrk, free_port, pinned, say, signer_for, write_paths
from gateway.edge.links import TokenKind

_N = re.compile(r"[?&]n=(\d+)")


@dataclass
class Totals:
    runs: int = 0
    acknowledged: int = 0
    stored: int = 0
    missing: int = 0
    extra: int = 0
    worst_extra: int = 0
    duplicates: int = 0

    def add(self, other: Totals) -> None:
        for name in ("runs", "acknowledged", "stored", "missing", "extra", "duplicates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.worst_extra = max(self.worst_extra, other.worst_extra)


def one_run(work: Path, *, connections: int, kill_after: float, requests: int) -> Totals:
    """One kill -9 cycle in ``work``; returns its counts."""
    gateway = Gateway(work / "data", free_port())
    gateway.data_dir.mkdir(parents=True)
    write_paths(work / "paths.txt", signer_for(gateway), requests, kind=TokenKind.CLICK, campaign="crash")
    gateway.start()
    acked_file = work / "acked.txt"
    wrk = subprocess.Popen(
        pinned(
            1,
            [
                ensure_wrk(),
                "-t1",
                f"-c{connections}",
                f"-d{math.ceil(kill_after + 2.5)}s",
                "-s",
                str(LUA / "crash.lua"),
                gateway.url,
                "--",
                str(work / "paths.txt"),
                str(acked_file),
            ],
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(kill_after)
    gateway.kill()
    wrk.wait(timeout=60)
    restarted = Gateway(gateway.data_dir, free_port()).start()  # same directory: the outbox ships what it holds
    try:
        restarted.drained()
        stored_rows = restarted.sql("SELECT url FROM events WHERE event_name = 'email_click'")
    finally:
        restarted.stop()
    acked = {int(line) for line in acked_file.read_text().split()}
    stored_all = [int(m.group(1)) for row in stored_rows if (m := _N.search(str(row["url"])))]
    stored = set(stored_all)
    extra = len(stored - acked)
    return Totals(
        runs=1,
        acknowledged=len(acked),
        stored=len(stored),
        missing=len(acked - stored),
        extra=extra,
        worst_extra=extra,
        duplicates=len(stored_all) - len(stored),
    )


def run_crash_test(runs: int, *, connections: int = 32, kill_after: float = 1.5, requests: int = 60_000) -> Totals:
    """``runs`` kill -9 cycles; prints a line per run and returns the totals."""
    ensure_wrk()
    totals = Totals()
    for i in range(1, runs + 1):
        with tempfile.TemporaryDirectory(prefix="ga4gw-crash-") as tmp:
            result = one_run(Path(tmp), connections=connections, kill_after=kill_after, requests=requests)
        totals.add(result)
        say(f"run {i:>2}/{runs}: acknowledged {result.acknowledged:>6,}  stored {result.stored:>6,}  "
            f"missing {result.missing}  extra {result.extra} (bound {connections})  "
            f"duplicate rows {result.duplicates}")  # fmt: skip
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description="kill -9 the gateway under load; count lost acknowledged clicks")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    totals = run_crash_test(args.runs, connections=args.connections)
    print(f"runs: {totals.runs}  acknowledged: {totals.acknowledged:,}  stored: {totals.stored:,}  "
          f"missing: {totals.missing}  extra: {totals.extra} (worst run {totals.worst_extra}, bound "
          f"{args.connections} per run)  duplicate rows before FINAL: {totals.duplicates}")  # fmt: skip
    ok = totals.missing == 0 and totals.worst_extra <= args.connections
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
