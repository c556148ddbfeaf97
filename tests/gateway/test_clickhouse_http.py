"""The analyst interface's limits: a client may lower them, never raise them."""

from __future__ import annotations

import os

import pytest

from gateway.api.clickhouse_http import Limits, _ClickHouseError


def test_limits_only_go_down() -> None:
    limits = Limits(max_seconds=60, max_result_rows=1000, max_result_bytes=10**6, max_memory=10**9)
    raised = limits.apply(
        {
            "max_execution_time": "3600",
            "max_result_rows": "0",
            "max_result_bytes": "1000000000000",
            "max_memory_usage": "-1",
        }
        | {"max_threads": "100000"}
    )
    assert raised["max_execution_time"] == 60
    assert raised["max_result_rows"] == 1000
    assert raised["max_memory_usage"] == 10**9
    assert raised["max_threads"] == (os.cpu_count() or 1)
    lowered = limits.apply({"max_execution_time": "5", "max_result_rows": "10", "max_memory_usage": "1000"})
    assert (lowered["max_execution_time"], lowered["max_result_rows"], lowered["max_memory_usage"]) == (5, 10, 1000)
    assert lowered["result_overflow_mode"] == "throw"
    unlimited = Limits(max_seconds=60, max_result_rows=0, max_result_bytes=0, max_memory=0).apply({})
    assert "max_result_rows" not in unlimited
    assert "result_overflow_mode" not in unlimited


def test_a_limit_that_is_not_a_number_is_a_clickhouse_error() -> None:
    limits = Limits(max_seconds=60, max_result_rows=0, max_result_bytes=0, max_memory=0)
    with pytest.raises(_ClickHouseError) as bad:
        limits.apply({"max_result_bytes": "lots"})
    assert bad.value.code == 27
    assert "max_result_bytes" in bad.value.body()


def test_the_readme_lists_exactly_the_allowed_settings() -> None:
    """The README's per-query settings table is the allow-list: a setting added to one is added to the other."""
    import re
    from pathlib import Path

    from gateway.api.sql_settings import ALLOWED_SETTINGS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("**Per-query settings.**", 1)[1].split("Not allowed, on purpose", 1)[0]
    rows = [line.strip().split(" | ")[0] for line in section.splitlines() if line.strip().startswith("| `")]
    listed = {name for row in rows for name in re.findall(r"`([a-z0-9_]+)`", row)}
    assert listed == ALLOWED_SETTINGS
