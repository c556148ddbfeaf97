"""Edge throughput: pixel and click requests/s and latency of ONE gateway process, beside a bare Starlette route.

    .venv/bin/python -m benchmarks.bench_edge [--duration 10] [--connections 64] [--quick]

The gateway (all its threads) is pinned to CPU 0 and wrk to CPU 1. Every acknowledged click is
durably committed before its answer; after the click run the script waits for the pipeline and
compares the rows in the warehouse with the responses wrk received. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.harness import LUA, ROOT, Gateway, WrkResult, free_port, pinned, run_wrk, say, signer_for, write_paths
from gateway.edge.links import TokenKind

PACED_TARGET = 4000
PACED_CONNECTIONS = 64  # each connection: one request every 16 ms = 4,000 requests/s in all


def _bare(port: int, work: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "benchmarks.bare_gif:app", "--port", str(port),
               "--log-level", "warning", "--no-access-log", "--no-server-header"]  # fmt: skip
    with (work / "bare.log").open("wb") as log:
        proc = subprocess.Popen(pinned(0, command), cwd=ROOT, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/o/x.gif", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the bare Starlette app did not start")


def _paced(gateway: Gateway, paths: Path, seconds: float) -> WrkResult:
    """Clicks at about 4,000/s: wrk's delay() paces each connection (closed loop; wrk2 is not packaged).

    A connection sends every ``delay + latency`` ms, so the delay is tuned from the measured mean
    latency until the achieved rate is within 5 % of the target, then the measured run follows.
    """
    interval_ms = PACED_CONNECTIONS * 1000 / PACED_TARGET
    delay = interval_ms
    for _ in range(4):
        probe = run_wrk(gateway.url, LUA / "paths.lua", [str(paths), str(round(delay))],
                        connections=PACED_CONNECTIONS, seconds=2)  # fmt: skip
        say(f"  pacing: delay {round(delay)} ms -> {probe.rate:,.0f} requests/s")
        if abs(probe.rate - PACED_TARGET) <= 0.05 * PACED_TARGET:
            break
        delay = max(0.0, delay + interval_ms - PACED_CONNECTIONS * 1000 / max(probe.rate, 1.0))
    return run_wrk(gateway.url, LUA / "paths.lua", [str(paths), str(round(delay))],
                   connections=PACED_CONNECTIONS, seconds=seconds)  # fmt: skip


def _line(name: str, result: WrkResult) -> str:
    return f"{name:<34} {result.rate:>10,.0f} {result.p50_ms:>9.2f} {result.p99_ms:>9.2f} {result.errors:>7}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="3-second runs")
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.duration
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ga4gw-bench-") as tmp:
        work = Path(tmp)
        gateway = Gateway(work / "data", free_port())
        gateway.data_dir.mkdir()
        signer = signer_for(gateway)
        say("signing 4,000 distinct pixel and click paths ...")
        write_paths(work / "pixels.txt", signer, 4000, kind=TokenKind.OPEN, campaign="bench-pixel")
        write_paths(work / "clicks.txt", signer, 4000, kind=TokenKind.CLICK, campaign="bench-click")
        say(f"starting the gateway on CPU 0 ({gateway.url}) ...")
        gateway.start()
        try:
            say(f"warming up, then pixel and click runs of {seconds:g} s with {args.connections} connections ...")
            run_wrk(gateway.url, LUA / "paths.lua", [str(work / "pixels.txt")], connections=8, seconds=2)
            pixel = run_wrk(gateway.url, LUA / "paths.lua", [str(work / "pixels.txt")],
                            connections=args.connections, seconds=seconds)  # fmt: skip
            say(f"  pixel: {pixel.rate:,.0f} requests/s")
            gateway.drained()
            before = _clicks_stored(gateway)
            click = run_wrk(gateway.url, LUA / "paths.lua", [str(work / "clicks.txt")],
                            connections=args.connections, seconds=seconds)  # fmt: skip
            say(f"  click: {click.rate:,.0f} requests/s; waiting for the pipeline to drain ...")
            gateway.drained()
            stored = _clicks_stored(gateway) - before
            paced = _paced(gateway, work / "clicks.txt", seconds)
            rss = gateway.peak_rss_mib()
        finally:
            gateway.stop()
        say("bare Starlette route on CPU 0, same uvicorn settings ...")
        bare_port = free_port()
        bare_proc = _bare(bare_port, work)
        try:
            bare_url = f"http://127.0.0.1:{bare_port}"
            run_wrk(bare_url, LUA / "paths.lua", [str(work / "pixels.txt")], connections=8, seconds=2)
            bare = run_wrk(bare_url, LUA / "paths.lua", [str(work / "pixels.txt")],
                           connections=args.connections, seconds=seconds)  # fmt: skip
        finally:
            bare_proc.terminate()
            bare_proc.wait()
    rows.append(f"{'run':<34} {'requests/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'non-2xx':>7}")
    rows += [_line("pixel (gateway)", pixel), _line("click (gateway)", click), _line("bare Starlette GIF", bare)]
    rows.append(_line("click at 4,000/s offered (paced)", paced) + f"   achieved {paced.rate:,.0f}/s, closed loop")
    print("\n".join(rows))
    print(f"pixel / bare: {pixel.rate / bare.rate:.0%}   click / bare: {click.rate / bare.rate:.0%}")
    acked = click.requests - click.errors
    print(f"clicks acknowledged: {acked:,}   stored in the warehouse: {stored:,}   missing: {max(acked - stored, 0):,}")
    print(f"gateway peak RSS: {rss:,.0f} MiB   (gateway on CPU 0, wrk on CPU 1, {args.connections} connections)")
    return 0


def _clicks_stored(gateway: Gateway) -> int:
    rows = gateway.sql("SELECT count() AS n FROM events FINAL WHERE event_name = 'email_click'")
    return int(str(rows[0]["n"]))


if __name__ == "__main__":
    raise SystemExit(main())
