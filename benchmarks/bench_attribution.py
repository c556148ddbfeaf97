"""Attribution at scale: 1,000,000 conversions with 1 to 10 touches each, in the embedded warehouse.

.venv/bin/python -m benchmarks.bench_attribution [--conversions 1000000] [--non-converting 300000] [--dir PATH]

Events are generated inside ClickHouse (INSERT ... SELECT from numbers(), in chunks, printing progress): per
conversion 1 to 10 touches (40 % email clicks, 20 % human opens, the rest visits from google / cpc,
facebook / paid, bing / cpc or direct) and a purchase; plus people who touched but did not buy. Then one
attribution run over everything, timing the journey build and each model, and the process's peak memory
(chDB runs in this process, so that includes the engine). Goals: each rule model < 30 s, Markov order 1 < 30 s,
memory < 4 GiB.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from attribution import MODELS, AttributionConfig, run_attribution
from warehouse import Warehouse, migrate

BASE = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 80
UNTIL = BASE + timedelta(days=DAYS + 1)
CHUNK = 100_000

# kind = hash % 10: 0-3 click, 4-5 open, 6 google / cpc, 7 facebook / paid, 8 bing / cpc, 9 direct.
_GENERATE = """
INSERT INTO events (event_id, event_time, received_at, event_name, source, campaign_id, variant, recipient, verdict,
                    params, value, currency, transaction_id)
SELECT
    concat({prefix:String}, toString(n), '-', toString(k)) AS id,
    ct - toIntervalMinute(if(k = m, 0, (m - k) * 90)) AS t,
    t,
    if(k = m, 'purchase', multiIf((cityHash64(n, k) % 10 AS kind) < 4, 'email_click', kind < 6, 'email_open',
                                  'session_start')),
    if(k = m, 'server', multiIf(kind < 4, 'click', kind < 6, 'open', 'mp')),
    if(k < m AND kind < 6, concat('camp', toString(cityHash64(n, k, 1) % 20)), ''),
    if(k < m AND kind < 6, if(cityHash64(n, k, 2) % 2 = 0, 'A', 'B'), ''),
    if(k < m AND kind < 6, person, ''),
    if(k < m AND kind < 6, 'human', ''),
    CAST(multiIf(
        k = m OR kind = 9, map('email_pseudonym', person),
        kind = 6, map('email_pseudonym', person, 'source', 'google', 'medium', 'cpc'),
        kind = 7, map('email_pseudonym', person, 'source', 'facebook', 'medium', 'paid'),
        kind = 8, map('email_pseudonym', person, 'source', 'bing', 'medium', 'cpc'),
        map('email_pseudonym', '')
    ), 'Map(String, String)'),
    if(k = m, toDecimal64((cityHash64(n, 3) % 20000) / 100, 6), toDecimal64(0, 6)),
    if(k = m, 'EUR', ''),
    if(k = m, concat('T', toString(n)), '')
FROM (
    SELECT
        number AS n,
        concat({prefix:String}, 'p', toString(number)) AS person,
        1 + cityHash64(number, 5) % 10 AS touches,
        -- a conversion has `touches` touches then the purchase (k = m); a non-conversion stops before it
        if({converting:UInt8} = 1, touches, touches + 1) AS m,
        {start:DateTime64(3, 'UTC')} + toIntervalSecond(cityHash64(number, 7) % {spread:UInt32}) AS ct
    FROM numbers({lo:UInt64}, {size:UInt64})
)
ARRAY JOIN range(if({converting:UInt8} = 1, m + 1, m)) AS k
SETTINGS max_block_size = 65536
"""


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(wh: Warehouse, count: int, *, converting: bool, label: str) -> None:
    started = time.perf_counter()
    spread = DAYS * 86400 if converting else 20 * 86400  # non-conversions end in the last 20 days
    start = BASE if converting else UNTIL - timedelta(days=20)
    for lo in range(0, count, CHUNK):
        size = min(CHUNK, count - lo)
        wh.command(
            _GENERATE,
            {
                "prefix": "c" if converting else "n",
                "converting": int(converting),
                "lo": lo,
                "size": size,
                "start": start,
                "spread": spread,
            },
        )
        done = lo + size
        print(f"  {label}: {done:>9,} / {count:,}  ({time.perf_counter() - started:5.1f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversions", type=int, default=1_000_000)
    parser.add_argument("--non-converting", type=int, default=300_000)
    parser.add_argument("--dir", type=Path, help="engine directory (default: a temporary one, removed afterwards)")
    args = parser.parse_args()
    path = args.dir or Path(tempfile.mkdtemp(prefix="bench-attribution-"))
    try:
        wh = Warehouse.connect(f"chdb://{path}?database=bench")
        migrate(wh)
        print(
            f"generating {args.conversions:,} conversions and {args.non_converting:,} non-converting people in {path}"
        )
        tick = time.perf_counter()
        _generate(wh, args.conversions, converting=True, label="conversions")
        _generate(wh, args.non_converting, converting=False, label="non-converting")
        events = wh.scalar("SELECT count() FROM events")
        print(f"{events:,} events in {time.perf_counter() - tick:.1f} s; peak memory so far {_peak_rss_mib():,.0f} MiB")

        def progress(step: str, done: int, total: int) -> None:
            print(f"  [{done}/{total}] {step} ... (peak {_peak_rss_mib():,.0f} MiB)", flush=True)

        tick = time.perf_counter()
        summary = run_attribution(wh, AttributionConfig(), models=MODELS, until=UNTIL, progress=progress)
        total = time.perf_counter() - tick
        credits = wh.scalar("SELECT count() FROM attribution_credits")
        print(f"\n{summary.conversions:,} conversions, {summary.touches:,} touches, {credits:,} credit rows")
        print(f"{'step':<18}{'seconds':>9}")
        for step, seconds in summary.seconds.items():
            print(f"{step:<18}{seconds:9.2f}")
        print(f"{'whole run':<18}{total:9.2f}")
        print(f"peak memory (RSS of this process, chDB included): {_peak_rss_mib():,.0f} MiB")
        wh.close()
    finally:
        if args.dir is None:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
