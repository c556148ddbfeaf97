"""Memory of the gateway while an analyst reads a ~1 GB result through /clickhouse/.

Prints the gateway's resident memory before the query, its peak while the result streams, and
how long a click took meanwhile. ``--root`` runs another checkout's gateway, to compare with a
version that held results whole:

    python -m benchmarks.sql_stream_rss [--rows 10000000] [--root /path/to/older/checkout]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.harness import ROOT, Gateway, free_port, say
from gateway.api.auth import TokenAuthority
from gateway.config.keys import load_keyrings
from gateway.config.settings import load_settings


def _rss_mib(pid: int, field: str = "VmRSS") -> float:
    match = re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of ~108 bytes each (default 10 M)")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose gateway runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        limits = {"GA4GW_SQL_MAX_RESULT_ROWS": "0", "GA4GW_SQL_MAX_RESULT_BYTES": "0", "GA4GW_SQL_MAX_SECONDS": "600"}
        gw = Gateway(Path(data), free_port(), settings=limits, root=args.root).start()
        try:
            assert gw.proc is not None
            token = TokenAuthority(load_keyrings(load_settings(gw.env())).api).issue("bench", ["sql:read"], 600)
            httpx.post(gw.url + "/clickhouse/", content=b"SELECT 1", auth=("bench", token)).raise_for_status()
            before = _rss_mib(gw.proc.pid)
            query = f"SELECT number, repeat('x', 100) FROM system.numbers LIMIT {args.rows}"
            received, peak, started = 0, before, time.monotonic()
            with httpx.stream(
                "POST", gw.url + "/clickhouse/", content=query.encode(), auth=("bench", token), timeout=600
            ) as answer:
                answer.raise_for_status()
                for number, chunk in enumerate(answer.iter_bytes()):
                    received += len(chunk)
                    if number % 20 == 0:
                        peak = max(peak, _rss_mib(gw.proc.pid))
            seconds = time.monotonic() - started
            peak = max(peak, _rss_mib(gw.proc.pid, "VmHWM"))
            say(f"gateway at {args.root}")
            print(f"result: {received / 1e9:.2f} GB in {seconds:.1f} s")
            print(f"gateway RSS before the query: {before:.0f} MiB; peak while it ran: {peak:.0f} MiB")
        finally:
            gw.stop()


if __name__ == "__main__":
    main()
