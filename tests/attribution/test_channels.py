"""GA4's default channel group as the journeys compute it: the documented rules, case by case, on the real engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from attribution.channels import DEFAULT_CHANNEL_GROUPS, SITE_LISTS, default_channel_sql, is_direct_sql, site_params
from warehouse import Warehouse

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "data" / "default_channel_cases.json").read_text(encoding="utf-8")
)["cases"]

# The journeys lower-case and trim what the shop sent before grouping it; the cases are written as sent.
_GROUP = default_channel_sql(
    "lower(trimBoth({s:String}))", "lower(trimBoth({m:String}))", "lower(trimBoth({c:String}))"
)


@pytest.mark.parametrize("case", CASES, ids=[f"{c['source']}/{c['medium']}/{c['campaign']}" for c in CASES])
def test_each_documented_rule_gives_its_group(warehouse: Warehouse, case: dict[str, Any]) -> None:
    params = {"s": case["source"], "m": case["medium"], "c": case["campaign"], **site_params()}
    assert warehouse.scalar(f"SELECT {_GROUP}", params) == case["group"], case["rule"]


def test_the_cases_cover_every_group() -> None:
    assert {c["group"] for c in CASES} == set(DEFAULT_CHANNEL_GROUPS)


def test_direct_is_what_ga_writes_for_a_visit_without_source(warehouse: Warehouse) -> None:
    direct = is_direct_sql("lower({s:String})", "lower({m:String})")
    for source, medium in (("(direct)", "(none)"), ("", ""), ("(not set)", "(not set)"), ("Direct", "(NONE)")):
        assert warehouse.scalar(f"SELECT {direct}", {"s": source, "m": medium}) == 1, (source, medium)
    for source, medium in (("google", ""), ("(direct)", "cpc"), ("", "email")):
        assert warehouse.scalar(f"SELECT {direct}", {"s": source, "m": medium}) == 0, (source, medium)


def test_the_site_lists_are_googles() -> None:
    # 819 rows on the day the list was copied; each source in exactly one category; YouTube is video, not social.
    assert sum(len(names) for names in SITE_LISTS.values()) == 819
    assert "youtube.com" in SITE_LISTS["video"]
    assert "youtube.com" not in SITE_LISTS["social"]
    assert "google shopping" in SITE_LISTS["shopping"]  # listed as "Google Shopping": matched in lower case
