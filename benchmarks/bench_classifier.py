"""How many hits per second gateway.edge.machine classifies on one core.

Run from the repository root: ``python -m benchmarks.bench_classifier``.
The hits are built before the clock starts, so only ``Classifier.classify`` is timed.
"""

import random
import time
from datetime import UTC, datetime, timedelta

from gateway.edge.machine import Classifier, Hit

HITS = 200_000
RECIPIENTS = 20_000

_USER_AGENTS = (
    # (weight, user agent): roughly a consumer list with Apple Mail, Gmail and some B2B scanners.
    (30, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"),
    (25, "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"),
    (15, ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Mobile/15E148")),
    (10, ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
          "Safari/537.36")),
    (5, ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
         "Mobile Safari/537.36")),
    (5, "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; Microsoft Outlook 16.0.17328; ms-office; MSOffice 16)"),
    (4, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Microsoft-SafeLinks/1.0"),
    (3, "python-requests/2.31.0"),
    (3, ""),
)  # fmt: skip


def _hits(rng: random.Random) -> list[Hit]:
    weights = [weight for weight, _ in _USER_AGENTS]
    agents = [agent for _, agent in _USER_AGENTS]
    sent = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
    hits = []
    for n in range(HITS):
        is_click = rng.random() < 0.3
        headers = {"user-agent": rng.choices(agents, weights)[0], "accept": "*/*", "accept-language": "en-GB"}
        if rng.random() < 0.02:
            headers["sec-purpose"] = "prefetch"
        hits.append(
            Hit(
                kind="click" if is_click else "open",
                method="HEAD" if rng.random() < 0.01 else "GET",
                headers=headers,
                ip=f"{rng.choice((17, 66, 198))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                campaign_id=f"c-{rng.randrange(5)}",
                recipient=f"r-{rng.randrange(RECIPIENTS)}",
                link_id=f"l-{rng.randrange(8)}" if is_click else None,
                send_time=sent,
                now=sent + timedelta(seconds=n * 0.05),
            )
        )
    return hits


def main() -> None:
    hits = _hits(random.Random(7))
    classifier = Classifier()
    classify = classifier.classify
    start = time.perf_counter()
    for one in hits:
        classify(one)
    elapsed = time.perf_counter() - start
    print(f"{HITS} hits in {elapsed:.3f} s: {HITS / elapsed:,.0f} hits/s, {elapsed / HITS * 1e6:.2f} µs per hit")


if __name__ == "__main__":
    main()
