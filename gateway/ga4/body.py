"""Validating a raw Measurement Protocol body, as Google's validation server receives it.

Three things only the text shows: invalid JSON, what no store can keep (a lone surrogate from a
``\ud800`` escape, nesting past ``gateway.json_values.MAX_DEPTH``), and names given twice in one object
(parsing keeps the last one silently). Everything else is ``validate`` on the parsed body with its real size.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.json_values import json_problem

from .validate import DEFAULT_LIMITS, Behavior, Code, Limits, ValidationMessage, validate

__all__ = ["validate_text"]


def validate_text(
    body: str | bytes,
    *,
    now: float,
    limits: Limits = DEFAULT_LIMITS,
    require_client_id: bool = True,
    behavior: Behavior | None = None,
    privacy_rules: bool = True,
    storage_rules: bool = True,
    raw_user_data: bool = False,
) -> list[ValidationMessage]:
    """Validate a raw body, as the validation server receives it.

    Two things only the text shows: invalid JSON (one VALUE_INVALID with no field path: nothing more
    can be said) and names given twice in one object, which parsing silently collapses to the last one
    (NAME_DUPLICATED at each such name). The rest is ``validate`` with the real body size and the same
    options (``behavior`` None: the body's own ``validation_behavior``, ``RELAXED`` when it has none).
    """
    seen: list[tuple[dict[str, Any], str]] = []  # holding the objects keeps their ids unique

    def remember_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                seen.append((result, key))
            result[key] = value  # the last one wins, as in plain json.loads
        return result

    try:
        payload = json.loads(body, object_pairs_hook=remember_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return [ValidationMessage("", f"Unable to parse Measurement Protocol JSON payload. {exc}", Code.VALUE_INVALID)]
    problem = json_problem(payload)  # what no store can keep: lone surrogates, nesting past the door's bound
    if problem is not None:
        return [ValidationMessage(problem[0], problem[1], Code.VALUE_INVALID)]
    size = len(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body)
    messages = [ValidationMessage(path, "this name is given more than once", Code.NAME_DUPLICATED)
                for path in _duplicate_paths(payload, seen)]  # fmt: skip
    return messages + validate(payload, now=now, limits=limits, require_client_id=require_client_id, body_size=size,
                               behavior=behavior, privacy_rules=privacy_rules, storage_rules=storage_rules,
                               raw_user_data=raw_user_data)  # fmt: skip


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python accepts them, JSON and Google do not


def _duplicate_paths(payload: object, seen: list[tuple[dict[str, Any], str]]) -> list[str]:
    """Paths of the duplicated names, in document order; iterative, so deep nesting cannot overflow."""
    if not seen:
        return []
    duplicated: dict[int, list[str]] = {}
    for obj, key in seen:
        duplicated.setdefault(id(obj), []).append(key)
    paths: list[str] = []
    stack: list[tuple[str, object]] = [("", payload)]
    while stack:
        path, node = stack.pop()
        children: list[tuple[str, object]] = []
        if isinstance(node, dict):
            paths.extend(f"{path}.{key}" if path else key for key in dict.fromkeys(duplicated.get(id(node), ())))
            children = [(f"{path}.{key}" if path else key, value) for key, value in node.items()]
        elif isinstance(node, list):
            children = [(f"{path}[{i}]", value) for i, value in enumerate(node)]
        stack.extend(reversed(children))
    return paths
