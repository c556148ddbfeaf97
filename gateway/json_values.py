"""What no store can keep in a parsed JSON value: lone surrogates, nesting past ``MAX_DEPTH``, infinities.

Shared by the API's JSON door (``gateway.api.bodies``) and the Measurement Protocol's raw-body check
(``gateway.ga4.body``), which answer the same finding in their own vocabularies.
"""

from __future__ import annotations

import math
import re

__all__ = ["MAX_DEPTH", "json_problem"]

MAX_DEPTH = 32  # the deepest real body (events[i].params.items[j].field) is 5 levels
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_problem(value: object, *, strings: bool = True) -> tuple[str, str] | None:
    """The first (field path, problem) that makes a parsed JSON value unfit to store, or None.

    Paths read like the routes' own errors: ``events[0].params.name``. Iterative, so depth cannot
    overflow the stack. ``strings=False`` skips the text search (the raw body had no surrogate escape).
    """
    stack: list[tuple[str, object, int]] = [("", value, 1)]
    while stack:
        path, node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                return path, f"nested more than {MAX_DEPTH} levels deep"
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str):
                    if strings and _SURROGATE.search(key):
                        return path, f"a name that is not valid UTF-8 (a lone surrogate): {_shown(key)}"
                    here = f"{path}.{key}" if path else key
                else:
                    here = f"{path}[{key}]"
                stack.append((here, child, depth + 1))
        elif isinstance(node, str):
            if strings and _SURROGATE.search(node):
                return path, "not valid UTF-8 text (a lone surrogate such as \\ud800)"
        elif isinstance(node, float) and not math.isfinite(node):
            return path, "a number too large to store"
    return None


def _shown(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("ascii", "replace")[:64]
