"""Validator speed on a typical full request (25 events, a few params each): validations/s.

.venv/bin/python -m benchmarks.bench_validate
"""

from __future__ import annotations

import time

from gateway.ga4 import validate


def main() -> None:
    now = time.time()
    payload = {
        "client_id": "123456789.1700000000",
        "user_id": "rc_k1_abcdefghijklmnop",
        "consent": {"ad_user_data": "DENIED", "ad_personalization": "DENIED"},
        "events": [
            {
                "name": "email_click",
                "timestamp_micros": int((now - 5) * 1e6),
                "params": {
                    "session_id": str(int(now)),
                    "engagement_time_msec": 1,
                    "campaign_id": "summer-26",
                    "campaign": "summer-26",
                    "source": "newsletter",
                    "medium": "email",
                    "content": "A-3",
                },
            }
            for _ in range(25)
        ],
    }
    count = 5000
    start = time.perf_counter()
    for _ in range(count):
        assert not validate(payload, now=now)
    elapsed = time.perf_counter() - start
    print(f"{count} validations of a 25-event request in {elapsed:.2f} s: {count / elapsed:,.0f} requests/s, "
          f"{count * 25 / elapsed:,.0f} events/s, {elapsed / count * 1e6:.0f} us per request")  # fmt: skip


if __name__ == "__main__":
    main()
