"""How much credit goes to direct visits, by last touch and last non-direct, on a small seeded journey set.

.venv/bin/python -m benchmarks.direct_share [--journeys 300] [--seed 15]

Each journey is 1 to 4 visits or email clicks two hours apart, then a purchase. Visits are written the ways a shop
and GA write them: ``google / cpc``, ``facebook / paid``, GA's own ``(direct) / (none)``, a ``session_start``
without a source, and a landing ``page_view`` without a source. Prints each model's share of conversions credited
to direct (any channel spelled ``direct`` or ``(direct) / (none)``) and the channels the journeys were made of.
Written against the public API only, so the same script measures a version before GA's direct was recognised.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from attribution import AttributionConfig, run_attribution
from warehouse import EVENT_COLUMN_NAMES, EventRow, Warehouse, migrate

T0 = datetime(2026, 3, 1, tzinfo=UTC)
# (event name, traffic params): how each kind of touch arrives
VISITS = {
    "google / cpc": ("session_start", {"source": "google", "medium": "cpc"}),
    "facebook / paid": ("session_start", {"source": "facebook", "medium": "paid"}),
    "GA (direct) / (none)": ("session_start", {"source": "(direct)", "medium": "(none)"}),
    "session_start, no source": ("session_start", {}),
    "landing page_view, no source": ("page_view", {}),
}
_DIRECT = ("direct", "(direct) / (none)")


def journeys(count: int, seed: int) -> list[EventRow]:
    rng = random.Random(seed)
    kinds = [*VISITS, "email click"]
    rows: list[EventRow] = []
    for n in range(count):
        person = f"p{n}"
        buy = T0 + timedelta(days=rng.randrange(50), minutes=rng.randrange(1440))
        touches = [rng.choice(kinds) for _ in range(rng.randint(1, 4))]
        for k, kind in enumerate(touches):
            at = buy - timedelta(hours=2 * (len(touches) - k))
            common = {"event_id": f"{person}-{k}", "event_time": at, "received_at": at, "person_id": person}
            if kind == "email click":
                rows.append(EventRow(**common, event_name="email_click", source="click", campaign_id="spring",
                                     recipient=person, verdict="human"))  # fmt: skip
            else:
                name, traffic = VISITS[kind]
                rows.append(EventRow(**common, event_name=name, source="server", params=dict(traffic)))
        rows.append(EventRow(event_id=f"{person}-buy", event_time=buy, received_at=buy, event_name="purchase",
                             source="server", person_id=person, value=Decimal(50), currency="EUR",
                             transaction_id=f"T{n}"))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=300)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="direct-share-"))
    try:
        wh = Warehouse.connect(f"chdb://{root}")
        migrate(wh)
        wh.insert("events", [r.as_tuple() for r in journeys(args.journeys, args.seed)], EVENT_COLUMN_NAMES)
        models = ("last_touch", "last_non_direct")
        run_attribution(wh, AttributionConfig(), models=models, since=T0, until=T0 + timedelta(days=60))
        conversions = wh.scalar("SELECT uniqExact(conversion_id) FROM attribution_credits")
        print(f"{args.journeys} journeys (seed {args.seed}), {conversions} conversions")
        for model in models:
            direct = wh.scalar(
                "SELECT sum(credit) FROM attribution_credits WHERE model = {m:String} AND channel IN {d:Array(String)}",
                {"m": model, "d": list(_DIRECT)},
            )
            print(f"  {model:<16} credit to direct {direct:7.2f}  ({100 * direct / conversions:5.1f} %)")
        rows = wh.rows("SELECT channel, count() FROM attribution_touches GROUP BY channel ORDER BY channel")
        print("  touches by channel: " + ", ".join(f"{channel} {n}" for channel, n in rows))
        wh.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
