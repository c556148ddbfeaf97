"""The warehouse and GA4 away under steady load, then back: nothing lost, nothing doubled, how fast it catches up.

Both go away at the start, under a paced load of distinct signed clicks (one recipient each), and each
comes back after its own time; the load goes on until both have caught up.

- GA4 away: the MP stand-in (a real HTTP server in this process) closes its listening socket, so the
  relay's connections are refused and it retries with its backoff; back: it listens again on the same
  port.
- The warehouse away: no ClickHouse server can be installed on this machine (Debian main has no
  package, PyPI has no server binary, chDB ships none, and nothing else may be downloaded), and the
  embedded chDB engine lives inside the gateway's process, where nothing from outside can take it away
  without taking the gateway with it. So the gateway starts with a ClickHouse server DSN whose port
  refuses every connection (a real outage as the gateway sees one: its warehouse link retries, the
  edge keeps answering into the outbox), and coming back is a graceful restart of the gateway on the
  same data directory and port with the embedded warehouse, which then drains the outbox it inherited.
  What this does not exercise: a server coming back while the same process waits for it (the link's
  reconnect loop is covered by tests/gateway/test_live.py instead); the restart costs a few seconds of
  refused clicks, which are counted and are not acknowledged. And because this gateway starts without
  its warehouse, the relay takes nothing until the consent ledger has loaded from it (by design: a
  withdrawal could be missed), so GA4 is held back at least as long as the warehouse is away; a gateway
  that loses its warehouse while running keeps relaying.

The outbox's depth is sampled each second from its SQLite files; the catch-up of the warehouse is the
time from its return until the oldest event not yet in it is under 5 s old (``/readyz``), that of GA4
the time from its return until no relay request waits on an event older than 5 s. The warehouse's
return is the moment the old gateway has stopped: its catch-up includes the new one's start.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.harness import CHROME, Gateway, free_port, say, signer_base, signer_for
from benchmarks.soak_probe import Counts, count, depth, ga4_drained, ga4_settings
from gateway.edge.links import LinkSigner, LinkToken, TokenKind
from gateway.ga4.standin import StandIn

_CAUGHT_UP = 5.0  # seconds: the oldest waiting event younger than this is "caught up"
_TAIL = 10.0  # seconds of load after both have caught up


@dataclass
class AwayResult:
    warehouse_away: float
    ga4_away: float
    rate: int
    load_seconds: float = 0.0
    refused: int = 0  # clicks refused or failed while the gateway restarted (never acknowledged)
    sent: int = 0  # clicks the pacer sent (acknowledged + refused)
    stop_seconds: float = 0.0  # the graceful stop of the gateway whose warehouse was away
    start_seconds: float = 0.0  # the start on the embedded engine until /readyz answered 200
    counts: Counts = field(default_factory=Counts)
    warehouse_catch_up: float | None = None
    ga4_catch_up: float | None = None
    peak_held: int = 0
    peak_warehouse: int = 0
    peak_ga4: int = 0
    peak_queued: int = 0
    peak_bytes: int = 0


class _Pacer(threading.Thread):
    """Sends one distinct signed click every 1/rate s and keeps the n of every 302."""

    def __init__(self, url: str, signer: LinkSigner, rate: int) -> None:
        super().__init__(name="soak-pacer", daemon=True)
        self.url, self.signer, self.rate = url, signer, rate
        self.acked: set[int] = set()
        self.refused = 0
        self.done = threading.Event()

    def _path(self, n: int, sent: int) -> str:
        token = LinkToken(kind=TokenKind.CLICK, campaign_id="soak-away",
                          recipient=f"sub-{n}", link_id=str(n % 7 + 1), url=f"https://shop.example/p?n={n}",
                          variant="AB"[n % 2], sent_at=sent)  # fmt: skip
        url = self.signer.click_url(token)
        return url.removeprefix(signer_base(url))

    def run(self) -> None:
        headers = {"user-agent": CHROME, "accept": "text/html", "accept-language": "en"}
        sent = int(time.time()) - 3600
        start = time.perf_counter()
        n = 0
        with httpx.Client(base_url=self.url, headers=headers, timeout=10) as client:
            while not self.done.is_set():
                delay = start + n / self.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                try:
                    answer = client.get(self._path(n, sent))
                    if answer.status_code == 302:
                        self.acked.add(n)
                    else:
                        self.refused += 1
                except httpx.HTTPError:
                    self.refused += 1
                n += 1


class _Sampler(threading.Thread):
    """Each second: the outbox's depth on disk, kept at its peaks."""

    def __init__(self, data_dir: Path, result: AwayResult) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.data_dir, self.result = data_dir, result
        self.done = threading.Event()

    def run(self) -> None:
        r = self.result
        while not self.done.wait(1.0):
            now = depth(self.data_dir)
            if now is None:
                continue
            r.peak_held, r.peak_warehouse = max(r.peak_held, now.held), max(r.peak_warehouse, now.warehouse)
            r.peak_ga4, r.peak_queued = max(r.peak_ga4, now.ga4), max(r.peak_queued, now.ga4_queued)
            size = sum(p.stat().st_size for p in self.data_dir.glob("outbox.sqlite3*"))
            r.peak_bytes = max(r.peak_bytes, size)


def _warehouse_oldest(gateway: Gateway) -> float | None:
    """Age of the oldest event not yet in the warehouse (0 when none); None when the gateway is not ready."""
    try:
        body = httpx.get(gateway.url + "/readyz", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None
    if not body.get("warehouse", {}).get("reachable"):
        return None
    return float(body.get("outbox", {}).get("oldest_age_seconds", 0.0))


def run_away(*, warehouse_away: float, ga4_away: float, rate: int) -> AwayResult:
    result = AwayResult(warehouse_away, ga4_away, rate)
    with tempfile.TemporaryDirectory(prefix="ga4gw-soak-away-") as tmp, StandIn() as standin:
        data_dir, port = Path(tmp), free_port()
        settings = ga4_settings(standin)
        if warehouse_away:
            settings["GA4GW_WAREHOUSE_DSN"] = f"http://default:soak@127.0.0.1:{free_port()}/default"  # nobody there
        gateway = Gateway(data_dir, port, settings=settings)
        if ga4_away:
            standin.pause()
        gateway.start(ready="/healthz" if warehouse_away else "/readyz")
        pacer, sampler = _Pacer(gateway.url, signer_for(gateway), rate), _Sampler(data_dir, result)
        start = time.monotonic()
        pacer.start()
        sampler.start()
        warehouse_back = ga4_back = None
        try:
            while True:
                time.sleep(0.5)
                t = time.monotonic() - start
                if warehouse_away and warehouse_back is None and t >= warehouse_away:
                    say(f"{t:7.1f} s: the warehouse comes back (restart on the embedded engine)")
                    stopping = time.monotonic()
                    gateway.stop()
                    warehouse_back = time.monotonic()
                    result.stop_seconds = warehouse_back - stopping
                    gateway = Gateway(data_dir, port, settings=ga4_settings(standin)).start()
                    result.start_seconds = time.monotonic() - warehouse_back
                if ga4_away and ga4_back is None and t >= ga4_away:
                    say(f"{t:7.1f} s: GA4 comes back (the stand-in listens again)")
                    standin.resume()
                    ga4_back = time.monotonic()
                if warehouse_back and result.warehouse_catch_up is None:
                    oldest = _warehouse_oldest(gateway)
                    if oldest is not None and oldest < _CAUGHT_UP:
                        result.warehouse_catch_up = time.monotonic() - warehouse_back
                        caught = result.warehouse_catch_up
                        say(f"{time.monotonic() - start:7.1f} s: the warehouse caught up in {caught:.1f} s")
                if ga4_back and result.ga4_catch_up is None:
                    now = depth(data_dir)
                    if now is not None and now.ga4 < rate * _CAUGHT_UP and now.ga4_oldest_age < _CAUGHT_UP:
                        result.ga4_catch_up = time.monotonic() - ga4_back
                        say(f"{time.monotonic() - start:7.1f} s: GA4 caught up in {result.ga4_catch_up:.1f} s")
                if int(t * 2) % 60 == 0:
                    now = depth(data_dir)
                    say(f"{t:7.1f} s: {len(pacer.acked):,} acknowledged, {pacer.refused:,} refused; {now}")
                warehouse_done = not warehouse_away or result.warehouse_catch_up is not None
                ga4_done = not ga4_away or result.ga4_catch_up is not None
                if warehouse_done and ga4_done:
                    time.sleep(_TAIL)
                    break
        finally:
            pacer.done.set()
            pacer.join()
            result.load_seconds = time.monotonic() - start
            sampler.done.set()
            sampler.join()
        try:
            gateway.drained(timeout=600)
            if not ga4_drained(data_dir, timeout=900):
                say("the relay did not finish within 900 s: the GA4 counts are short")
            result.refused, result.sent = pacer.refused, pacer.refused + len(pacer.acked)
            result.counts = count(gateway, pacer.acked, standin)
        finally:
            gateway.stop()
    return result
