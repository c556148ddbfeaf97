"""The conformance table (``tests/data/mp_conformance.json``): Google's documented and recorded answers, and its
documented rules, each answered exactly, by ``/debug/mp/collect`` of a live gateway and by the validator itself."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.ga4 import Code, behavior_of, validate_text
from tests.conftest import LiveGateway, start_gateway

TABLE = json.loads((Path(__file__).resolve().parents[2] / "data" / "mp_conformance.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = TABLE["cases"]
_NOW_OFFSET = re.compile(r"\$now([+-][0-9]+)h")


def _body(case: dict[str, Any], now: float) -> str:
    """The case's body as the text a sender posts, with ``$now-80h`` turned into microseconds."""

    def materialise(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: materialise(value) for key, value in node.items()}
        if isinstance(node, list):
            return [materialise(value) for value in node]
        if isinstance(node, str) and (offset := _NOW_OFFSET.fullmatch(node)):
            return int((now + int(offset.group(1)) * 3600) * 1_000_000)
        return node

    return json.dumps(materialise(case["body"]), ensure_ascii=False)


def _assert_answers(case: dict[str, Any], answer: list[dict[str, str]]) -> None:
    """Exactly the expected messages, in order: the code always, the path and description where the case has them,
    and no path at all where the expected message has none."""
    expected = case["expected"]
    assert [m["validationCode"] for m in answer] == [m["validationCode"] for m in expected], answer
    for got, want in zip(answer, expected, strict=True):
        assert got.get("fieldPath") == want.get("fieldPath"), (got, want)
        if "description" in want:
            assert got["description"] == want["description"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    gw = start_gateway(tmp_path_factory.mktemp("conformance") / "data")
    yield gw
    assert gw.stop() in (0, -signal.SIGTERM), gw.log()


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_the_validator_answers_each_case_exactly(case: dict[str, Any]) -> None:
    messages = validate_text(_body(case, time.time()), now=time.time())
    _assert_answers(case, [message.as_json() for message in messages])


@pytest.mark.live
@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_debug_mp_collect_answers_each_case_exactly(gateway: LiveGateway, case: dict[str, Any]) -> None:
    answer = httpx.post(gateway.url + "/debug/mp/collect", content=_body(case, time.time()).encode(), timeout=30)
    assert answer.status_code == 200
    _assert_answers(case, answer.json()["validationMessages"])


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_each_case_has_its_source_and_says_how_it_differs(case: dict[str, Any]) -> None:
    assert case["source"].startswith("https://"), case["source"]
    assert case["answer"] in ("documented", "recorded", "rule")
    assert case["validation_behavior"] == behavior_of(case["body"])  # the behaviour the server applies
    if case["answer"] == "recorded":
        assert case["recorded_in"]
    if "google" in case:  # Google's own answer differs from ours: the case must say why
        assert case["google"] != case["expected"]
        assert len(case["difference"]) > 40


def test_the_table_is_large_and_speaks_every_code_under_both_behaviours() -> None:
    assert len(CASES) >= 40
    assert len({case["id"] for case in CASES}) == len(CASES)
    codes = {m["validationCode"] for case in CASES for m in case["expected"]}
    assert codes == {code.value for code in Code}
    assert {case["validation_behavior"] for case in CASES} == {"RELAXED", "ENFORCE_RECOMMENDATIONS"}
    assert sum(case["answer"] in ("documented", "recorded") for case in CASES) >= 10


def test_the_cases_the_issue_names_are_in_the_table() -> None:
    ids = {case["id"] for case in CASES}
    assert {
        "client-id-uuid-relaxed", "client-id-leading-zeros-relaxed", "client-id-leading-zeros-enforce",
        "page-location-150-chars-relaxed", "page-location-1000-chars-enforce", "item-27-custom-params-enforce",
        "documented-bad-event-name-enforce", "recorded-item-price-with-currency-sign",
    } <= ids  # fmt: skip
