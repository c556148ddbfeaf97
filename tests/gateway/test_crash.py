"""kill -9 under load loses no acknowledged click (two runs; benchmarks/crash_test.py does twenty)."""

from __future__ import annotations

import pytest

from benchmarks.crash_test import run_crash_test

pytestmark = pytest.mark.live


def test_kill_minus_nine_loses_no_acknowledged_click() -> None:
    totals = run_crash_test(2, connections=16, kill_after=1.0, requests=30_000)
    assert totals.acknowledged > 1000  # the load really ran before the kill
    assert totals.missing == 0
    assert totals.worst_extra <= 16
