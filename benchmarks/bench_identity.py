"""Load a million edges into the identity graph, in memory and from the embedded warehouse, and time lookups.

Run from the repository root: ``python -m benchmarks.bench_identity [--edges N] [--no-warehouse] [--tracemalloc]``.
Goals (issue 5): loading under 10 s and under 1 GiB, a lookup in microseconds.

The data: people with a recipient key, an email pseudonym, often a CRM id pseudonym and a user id,
one to three GA client ids, some devices; edges spread over 300 days; 0.1 % of edges come from
bot client ids seen with many recipients (they become shared). Peak memory is the process's peak
RSS (``ru_maxrss``) minus the RSS before loading; ``--tracemalloc`` also reports Python's own peak
allocation for the load (tracing makes the load several times slower, so its time is not the figure).
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime

from identity import GraphConfig, Identifier, IdentityGraph, load_graph
from identity.graph import Row
from identity.store import EdgeStore

# Edges within the last 300 days: the table's retention TTL (14 months) would drop older rows.
NOW = datetime.now(UTC).replace(microsecond=0)
NOW_MS = int(NOW.timestamp() * 1000)
DAY_MS = 86_400_000


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(n_edges: int, seed: int = 5) -> list[Row]:
    rng = random.Random(seed)
    rows: list[Row] = []
    person = 0

    def t() -> int:
        return NOW_MS - rng.randrange(300 * DAY_MS)

    bots = [f"{rng.randrange(10**9)}.{rng.randrange(10**9)}" for _ in range(max(1, n_edges // 20_000))]
    while len(rows) < n_edges:
        person += 1
        r, em = f"sub-{person}", f"em_k1_{rng.getrandbits(80):020x}"
        rows.append(("recipient", r, "email", em, "server_event", t()))
        clients = [f"{rng.randrange(10**9)}.{rng.randrange(10**9)}" for _ in range(rng.randint(1, 3))]
        for ga in clients:
            rows.append(("recipient", r, "ga_client", ga, "click_ga_cookie", t()))
        if rng.random() < 0.6:
            crm = f"crm_k1_{rng.getrandbits(80):020x}"
            rows.append(("email", em, "crm", crm, "server_event", t()))
            rows.append(("crm", crm, "ga_client", clients[0], "mp_ingest", t()))
        if rng.random() < 0.4:
            rows.append(("user", f"us_k1_{rng.getrandbits(80):020x}", "ga_client", clients[-1], "landing_token", t()))
        if rng.random() < 0.2:
            rows.append(("device", f"dv{rng.getrandbits(48):012x}", "ga_client", clients[0], "mp_ingest", t()))
        if rng.random() < 0.05:
            rows.append(
                ("recipient", f"sub-{rng.randint(1, person)}", "ga_client", rng.choice(bots), "click_ga_cookie", t())
            )
    return rows[:n_edges]


def _load_in_memory(rows: list[Row], config: GraphConfig) -> IdentityGraph:
    graph = IdentityGraph(config, lambda: NOW)
    graph.add_rows(rows)
    return graph


def _lookups(graph: IdentityGraph, rows: list[Row], n: int) -> None:
    rng = random.Random(7)
    sample = [Identifier.parse(f"{row[0]}:{row[1]}") for row in rng.sample(rows, n)]
    timings = []
    clock = time.perf_counter_ns
    for ident in sample:
        start = clock()
        graph.resolve(ident)
        timings.append(clock() - start)
    timings.sort()
    q = statistics.quantiles(timings, n=100)
    print(
        f"resolve() over {n:,} identifiers: p50 {q[49] / 1000:.1f} us, p90 {q[89] / 1000:.1f} us, "
        f"p99 {q[98] / 1000:.1f} us, max {timings[-1] / 1000:.1f} us, mean {statistics.fmean(timings) / 1000:.1f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--no-warehouse", action="store_true", help="skip the embedded-warehouse load")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations of a load")
    args = parser.parse_args()
    config = GraphConfig(max_persons=3, window_days=395)

    print(f"generating {args.edges:,} edges ...", flush=True)
    rows = generate(args.edges)
    gc.collect()
    base_rss = _rss_mib()
    print(f"generated; RSS {base_rss:.0f} MiB", flush=True)

    print("loading into the graph (in memory) ...", flush=True)
    start = time.perf_counter()
    graph = _load_in_memory(rows, config)
    elapsed = time.perf_counter() - start
    print(
        f"in memory: {graph.edge_count:,} edges, {graph.identifier_count:,} identifiers, "
        f"{len(set(graph.persons().values())):,} persons, {len(graph.shared_identifiers()):,} shared, "
        f"{graph.rebuilds} full rebuild(s): {elapsed:.2f} s, peak RSS +{_peak_mib() - base_rss:.0f} MiB "
        f"(process peak {_peak_mib():.0f} MiB)",
        flush=True,
    )
    _lookups(graph, rows, args.lookups)
    start = time.perf_counter()
    graph.rebuild()
    print(f"full rebuild of the loaded graph: {time.perf_counter() - start:.2f} s", flush=True)
    del graph
    gc.collect()

    if args.tracemalloc:
        print("loading again under tracemalloc ...", flush=True)
        tracemalloc.start()
        graph = _load_in_memory(rows, config)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"tracemalloc: peak Python allocation during the load {peak / 2**20:.0f} MiB", flush=True)
        del graph
        gc.collect()

    if args.no_warehouse:
        return
    from warehouse import Warehouse, migrate

    with tempfile.TemporaryDirectory(prefix="bench-identity-") as tmp:
        wh = Warehouse.connect(f"chdb://{tmp}")
        migrate(wh)
        store = EdgeStore(wh, clock=lambda: NOW)
        print("inserting the edges into the embedded warehouse ...", flush=True)
        start = time.perf_counter()
        for i in range(0, len(rows), 200_000):
            chunk = rows[i : i + 200_000]
            wh.insert(
                "identity_edges",
                [(datetime.fromtimestamp(r[5] / 1000, UTC), r[0], r[1], r[2], r[3], r[4], NOW) for r in chunk],
                ("edge_time", "a_kind", "a_value", "b_kind", "b_value", "source", "recorded_at"),
            )
            print(f"  {min(i + 200_000, len(rows)):,} rows", flush=True)
        print(f"inserted in {time.perf_counter() - start:.2f} s (not part of the goal)", flush=True)
        del rows
        gc.collect()
        base_rss = _rss_mib()
        print("loading from the warehouse (load_graph) ...", flush=True)
        start = time.perf_counter()
        graph = load_graph(wh, config, clock=lambda: NOW)
        elapsed = time.perf_counter() - start
        print(
            f"from the warehouse: {graph.edge_count:,} edges, {graph.identifier_count:,} identifiers: "
            f"{elapsed:.2f} s, RSS now {_rss_mib():.0f} MiB (+{_rss_mib() - base_rss:.0f} MiB)",
            flush=True,
        )
        start = time.perf_counter()
        rows_read = sum(1 for _ in store.rows())
        print(f"  of which reading {rows_read:,} rows alone: {time.perf_counter() - start:.2f} s", flush=True)
        wh.close()
    print(f"process peak RSS {_peak_mib():.0f} MiB; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
