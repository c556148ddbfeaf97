"""Importing a year of history: 1,000,000 events (orders and sessions) from a file into the embedded warehouse.

.venv/bin/python -m benchmarks.bench_import [--events 1000000] [--format ndjson|csv] [--workers N] [--dir PATH]

Writes the file first (not timed): people over a year, each with visits (``page_view`` with a source and medium:
google / cpc, facebook / paid, bing / cpc, newsletter / referral, or none) and orders (``purchase`` with a
transaction id, value and items); half the people are known by email and user id, the rest by GA client id. Then
runs ``ga4gw import events FILE`` as a separate process with no gateway running (the embedded warehouse written
directly, checking in worker processes) and prints events/s, the total time, and the peak RSS of the command and
of its largest child (a checking worker). The goal: under 60 s for a million events.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=365)
CHANNELS = (("google", "cpc"), ("facebook", "paid"), ("bing", "cpc"), ("newsletter", "referral"), None)


def _events(count: int, seed: int = 15) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    person = 0
    while len(out) < count:
        person += 1
        who: dict[str, Any] = {"client_id": f"{1_000_000 + person}.{1_600_000_000 + person}"}
        if person % 2:
            who.update(email=f"person{person}@mail.example", user_id=f"crm-{person}")
        day = rng.uniform(0, 360)
        for _ in range(rng.randint(2, 8)):
            at = START + timedelta(days=day)
            channel = CHANNELS[rng.randrange(len(CHANNELS))]
            if rng.random() < 0.25:
                tid = f"T-{person}-{len(out)}"
                price = round(rng.uniform(5, 200), 2)
                out.append({"name": "purchase", **who, "time": at.isoformat().replace("+00:00", "Z"),
                            "params": {"transaction_id": tid, "value": price, "currency": "EUR",
                                       "items": [{"item_id": f"SKU-{rng.randrange(500)}", "price": price,
                                                  "quantity": 1}]}})  # fmt: skip
            else:
                page = f"https://shop.example/p/{rng.randrange(900)}"
                event: dict[str, Any] = {"name": "page_view", **who, "time": at.isoformat().replace("+00:00", "Z"),
                                         "params": {"page_location": page}}  # fmt: skip
                if channel:
                    event["traffic"] = {"source": channel[0], "medium": channel[1]}
                out.append(event)
            day += rng.expovariate(1 / 3)
            if day >= 365:  # no two events alike: an identical line is the same event, stored once
                break
    return out[:count]


def _write(path: Path, events: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "ndjson":
        with path.open("w", encoding="utf-8") as out:
            for event in events:
                out.write(json.dumps(event, separators=(",", ":")) + "\n")
        return
    columns = ["name", "time", "client_id", "email", "user_id", "traffic.source", "traffic.medium",
               "params.page_location", "params.transaction_id", "params.value", "params.currency",
               "params.items"]  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, columns)
        writer.writeheader()
        for event in events:
            flat = {k: v for k, v in event.items() if not isinstance(v, dict)}
            flat.update({f"traffic.{k}": v for k, v in event.get("traffic", {}).items()})
            for key, value in event["params"].items():
                flat[f"params.{key}"] = json.dumps(value) if key == "items" else value
            writer.writerow(flat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("ndjson", "csv"), default="ndjson")
    parser.add_argument("--dir", type=Path, help="where the file and warehouse go (default: a temporary directory)")
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench-import-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        tick = time.perf_counter()
        events = _events(args.events)
        path = base / f"history.{args.format}"
        _write(path, events, args.format)
        del events
        size = path.stat().st_size
        print(f"wrote {args.events:,} events ({size / 2**20:,.0f} MiB) to {path} in {time.perf_counter() - tick:.1f} s")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GA4GW_")}
        env["GA4GW_DATA_DIR"] = str(base / "data")
        subprocess.run([sys.executable, "-m", "gateway", "migrate"], env=env, cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        migrate_cpu = sum(getattr(resource.getrusage(resource.RUSAGE_CHILDREN), f) for f in ("ru_utime", "ru_stime"))
        print(f"importing on {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}) ...", flush=True)
        tick = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "gateway", "import", "events", str(path), "--quiet"], env=env,
                                cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        seconds = time.perf_counter() - tick
        if result.returncode != 0:
            raise SystemExit(f"the import failed:\n{result.stderr}")
        print(result.stdout.strip())
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak = usage.ru_maxrss / 1024
        cpu = usage.ru_utime + usage.ru_stime - migrate_cpu
        print(f"{args.events:,} events in {seconds:.1f} s: {args.events / seconds:,.0f} events/s (goal: under 60 s)")
        print(f"peak RSS of the largest process (the command or a checking worker): {peak:,.0f} MiB")
        print(
            f"CPU time of the import (command, engine and workers): {cpu:.1f} s; on {os.cpu_count()} cores "
            f"at least {cpu / (os.cpu_count() or 1):.1f} s of wall time; load average now {os.getloadavg()[0]:.1f}"
        )
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
