"""GA4 relay figures: events/s from one process to the MP stand-in, and the time from a click to its arrival.

    .venv/bin/python -m benchmarks.bench_relay [--quick]

1. Throughput. The MP stand-in runs in its own process on CPU 1; the relay (intake: payloads,
   validator, packing, ledger; sender: httpx, up to GA4GW_GA4_CONCURRENCY requests in flight) runs in
   this process on CPU 0, from an outbox filled beforehand, until the ledger has every request sent.
   Two mixes: the shop's events (10 per person, so requests carry 10 events) and email clicks (one
   per person: a request carries a click's email_click and campaign_details).
2. Click to arrival. A real gateway on CPU 0 relays to the stand-in; clicks arrive at a steady rate
   over real HTTP; the latency of a click is the stand-in's arrival time minus the event's
   ``timestamp_micros`` (the moment the gateway recorded the click): p50, p95, p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.harness import CHROME, ROOT, Gateway, free_port, pinned, say, signer_for, write_paths
from consent import ConsentPolicy
from gateway.edge.links import TokenKind
from gateway.ga4.ledger import Ledger
from gateway.ga4.payloads import PayloadBuilder
from gateway.ga4.relay import Relay, RelayConfig
from gateway.state.consent_link import ConsentLink
from gateway.stores.outbox import Outbox
from gateway.telemetry.metrics import Metrics
from identity import Pseudonymizer
from warehouse import EventRow


def start_standin() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "gateway", "ga4", "standin", "--port", str(port)]
    proc = subprocess.Popen(pinned(1, command), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/_standin/stats", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the MP stand-in did not start")


def rows(kind: str, count: int) -> list[EventRow]:
    now = datetime.now(UTC)
    made = []
    for i in range(count):
        if kind == "shop":
            person = i // 10
            params = {"ga4_params": json.dumps({"page_location": f"https://shop.example/p/{i}", "n": i})}
            made.append(EventRow(f"e{i}", now, now, "page_view", "server", ga_client_id=f"{person + 1}.1700000000",
                                 user_id=f"us_k1_{person}", params=params))  # fmt: skip
        else:
            made.append(EventRow(f"e{i}", now, now, "email_click", "click", campaign_id="bench", link_id=str(i % 7),
                                 verdict="human",
                                 recipient=f"sub-{i}", ga_client_id=f"{i + 1}.1700000000"))  # fmt: skip
    return made


def fill(outbox: Outbox, made: list[EventRow]) -> None:
    async def go() -> None:
        for start in range(0, len(made), 5000):
            chunk = made[start : start + 5000]
            await asyncio.gather(*(outbox.append(r.event_id, r.to_json()) for r in chunk))

    asyncio.run(go())


def throughput(url: str, kind: str, count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        outbox = Outbox(Path(tmp) / "outbox.sqlite3", consumers=("ga4",), synchronous="normal")
        fill(outbox, rows(kind, count))
        httpx.post(url + "/_standin/reset")
        config = RelayConfig(measurement_id="G-BENCH", api_secret="bench", origin=url, concurrency=16)
        pseudonymizer = Pseudonymizer([("k1", "b" * 40)])
        # Every purpose granted (no opt-in region): the full payload, and consent asked at intake and send.
        policy = ConsentPolicy(opt_in_regions=frozenset())
        consent = ConsentLink(policy, pseudonymizer, default_region="US", loaded=True)
        builder = PayloadBuilder(pseudonymizer, consent=consent)
        relay = Relay(outbox, Path(tmp) / "ledger.sqlite3", builder, config, Metrics())
        ledger = Ledger(Path(tmp) / "ledger.sqlite3")
        start = time.perf_counter()
        relay.start()
        while True:  # cheap, indexed polling: this process's core is the relay's too
            time.sleep(0.5)
            if ledger.position() >= count and ledger.queued() == 0:
                break
            say(f"  {kind}: {ledger.position():,} events taken, {ledger.queued():,} requests waiting ...")
        elapsed = time.perf_counter() - start
        state = ledger.status(max_age=72 * 3600)
        relay.stop()
        outbox.close()
        stats = httpx.get(url + "/_standin/stats").json()
        mp_events, requests = state.events["sent"], state.deliveries["sent"]
        assert stats["events"] == mp_events, (stats, mp_events)
        print(f"{kind:<6} {count:>7,} events -> {mp_events:>7,} MP events in {requests:>6,} requests, "
              f"{elapsed:6.2f} s: {mp_events / elapsed:>8,.0f} MP events/s, {requests / elapsed:>7,.0f} requests/s, "
              f"{count / elapsed:>8,.0f} warehouse events/s", flush=True)  # fmt: skip


def click_to_arrival(url: str, rate: int, seconds: int, settle: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = {"GA4GW_GA4_MEASUREMENT_ID": "G-BENCH", "GA4GW_GA4_API_SECRET": "bench", "GA4GW_GA4_ORIGIN": url,
                    "GA4GW_GA4_SETTLE_SECONDS": f"{settle:g}"}  # fmt: skip
        gateway = Gateway(Path(tmp), free_port(), settings=settings).start()
        try:
            paths = Path(tmp) / "paths.txt"
            write_paths(paths, signer_for(gateway), rate * seconds, kind=TokenKind.CLICK, campaign="latency")
            httpx.post(url + "/_standin/reset")
            headers = {"user-agent": CHROME, "accept": "text/html", "accept-language": "en"}
            with httpx.Client(base_url=gateway.url, headers=headers) as client:
                start = time.perf_counter()
                for i, path in enumerate(paths.read_text().split()):
                    delay = start + i / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    assert client.get(path).status_code == 302
            total = rate * seconds
            deadline = time.monotonic() + 60
            latencies: list[float] = []
            while time.monotonic() < deadline:
                received = httpx.get(url + "/_standin/requests", timeout=60).json()
                latencies = [r["at"] - e["timestamp_micros"] / 1e6 for r in received if 200 <= r["answered"] < 300
                             for e in r["body"]["events"] if e["name"] == "email_click"]  # fmt: skip
                if len(latencies) >= total:
                    break
                time.sleep(0.5)
            latencies.sort()

            def pct(p: float) -> float:
                return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

            print(f"click -> stand-in: {len(latencies):,} of {total:,} clicks at {rate}/s; p50 {pct(0.5):.0f} ms, "
                  f"p95 {pct(0.95):.0f} ms, p99 {pct(0.99):.0f} ms, max {latencies[-1] * 1000:.0f} ms "
                  f"(GA4GW_GA4_BATCH_DELAY 0.5 s, GA4GW_GA4_SETTLE_SECONDS {settle:g} s)", flush=True)  # fmt: skip
        finally:
            gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test of the script)")
    parser.add_argument(
        "--settle",
        type=float,
        action="append",
        help="GA4GW_GA4_SETTLE_SECONDS for the click-to-arrival run; repeat to compare (default 0 and 5)",
    )
    parser.add_argument("--latency-only", action="store_true", help="skip the throughput runs")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    standin, url = start_standin()
    try:
        scale = 10 if args.quick else 1
        if not args.latency_only:
            throughput(url, "shop", 200_000 // scale)
            throughput(url, "clicks", 60_000 // scale)
            print(f"peak RSS of the relay process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        for settle in args.settle or (0.0, 5.0):
            click_to_arrival(url, rate=50 if args.quick else 200, seconds=5 if args.quick else 15, settle=settle)
    finally:
        standin.terminate()
        standin.wait()


if __name__ == "__main__":
    main()
