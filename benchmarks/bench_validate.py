"""Validator speed on a typical full request (25 events, 7 params each): validations/s.

The body asks for no ``validation_behavior``, so it is judged RELAXED, as the relay's are; one line
measures the same body under ENFORCE_RECOMMENDATIONS, which adds the collection limits.

The relay validates every request before sending it, so this is a cost paid per send.

    .venv/bin/python -m benchmarks.bench_validate
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from gateway.ga4 import Behavior, validate, validate_text


def _payload(now: float) -> dict[str, object]:
    return {
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
                    "content": f"A-{i}",
                },
            }
            for i in range(25)
        ],
    }


def _measure(label: str, check: Callable[[], object], count: int = 5000) -> None:
    assert not check()
    start = time.perf_counter()
    for _ in range(count):
        check()
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {count / elapsed:>9,.0f} validations/s  {elapsed / count * 1e6:>6.0f} us each")


def main() -> None:
    now = time.time()
    payload = _payload(now)
    body = json.dumps(payload, separators=(",", ":")).encode()
    print(f"a 25-event request, {len(body):,} bytes")
    _measure("validate(payload, body_size=known)", lambda: validate(payload, now=now, body_size=len(body)))
    strict = Behavior.ENFORCE_RECOMMENDATIONS
    _measure("  the same, ENFORCE_RECOMMENDATIONS",
             lambda: validate(payload, now=now, body_size=len(body), behavior=strict))  # fmt: skip
    _measure("validate(payload) (size computed)", lambda: validate(payload, now=now))
    _measure("validate_text(body) (parse + duplicates)", lambda: validate_text(body, now=now))


if __name__ == "__main__":
    main()
