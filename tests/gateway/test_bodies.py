"""The door's checks on parsed JSON: what no store can keep is named by its path, whatever the nesting."""

from __future__ import annotations

import json

import pytest

from gateway.api.bodies import parse_json
from gateway.errors import InvalidRequest
from gateway.json_values import MAX_DEPTH, json_problem


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"events": [{"params": {"x": "\ud800"}}]}, "events[0].params.x"),
        ({"events": [{"params": {"\udfff": 1}}]}, "events[0].params"),
        ({"a": [1, 2, float("inf")]}, "a[2]"),
        ({"a": -float("inf")}, "a"),
    ],
)
def test_what_cannot_be_stored_is_named_by_its_path(value: object, path: str) -> None:
    problem = json_problem(value)
    assert problem is not None
    assert problem[0] == path


def test_depth_is_bounded_without_recursion() -> None:
    deep: list[object] = []
    for _ in range(100_000):  # far past Python's recursion limit: the walk is iterative
        deep = [deep]
    problem = json_problem({"x": deep})
    assert problem is not None
    assert "nested" in problem[1]
    fits: object = "leaf"
    for _ in range(MAX_DEPTH - 1):
        fits = [fits]
    assert json_problem(fits) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"a": "\\ud800"}', "a"),
        (b'{"a": "\\uDC00x"}', "a"),
        (b'{"a": 1e999}', "a"),
        (b'{"a": NaN}', None),
        (b'{"a": "\xff"}', "body"),
        (b"[" * 10_000 + b"]" * 10_000, "body"),
    ],
)
def test_parse_json_answers_400_naming_the_field(body: bytes, field: str | None) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_json(body)
    assert refused.value.status == 400
    if field is not None:
        assert field in refused.value.fields


def test_a_surrogate_pair_is_one_valid_character() -> None:
    assert parse_json(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}
    assert parse_json(json.dumps({"a": "\\ud800 as text"}).encode()) == {"a": "\\ud800 as text"}
