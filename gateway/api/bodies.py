"""The door of every JSON route: size, media type, encoding and shape are checked before anything else reads a body.

What passes here can be stored: every string is valid UTF-8 (no lone surrogates from ``\\ud800``
escapes: SQLite, the warehouse and GA4 all refuse them, and one such string once stopped the
outbox's writer thread), nesting is bounded (a 10,000-level body must not reach a recursive
parser or a recursive walk) and every number is finite (``1e400`` parses as infinity).
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from gateway.errors import InvalidRequest
from gateway.json_values import MAX_DEPTH, json_problem

__all__ = ["parse_json", "read_body", "read_json", "require_json"]

_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # how a surrogate gets into a body: invalid UTF-8 bytes do not decode
_MEDIA = "application/json"


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body; 413 past ``max_bytes`` (counted as it streams in)."""
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise InvalidRequest(f"the body is larger than {max_bytes:,} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def require_json(request: Request) -> None:
    """415 unless the request says ``Content-Type: application/json`` (``; charset=utf-8`` allowed).

    A form or a text body is almost always a client bug: saying so beats guessing what it meant.
    """
    media, _, rest = request.headers.get("content-type", "").partition(";")
    charset = rest.strip().lower().replace(" ", "")
    if media.strip().lower() != _MEDIA or charset not in ("", "charset=utf-8", 'charset="utf-8"'):
        raise InvalidRequest(
            "send the body as JSON with the header Content-Type: application/json",
            {"content-type": "application/json (UTF-8)"},
            status=415,
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python accepts them, JSON does not


def parse_json(body: bytes) -> Any:
    """A body as JSON, checked as ``json_problem`` says; 400 naming the field when it cannot be stored."""
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise InvalidRequest("the body is not UTF-8 text", {"body": "JSON in UTF-8"}, status=400) from None
    except RecursionError:
        raise InvalidRequest("the body is nested too deeply", {"body": f"at most {MAX_DEPTH} levels"}, 400) from None
    except ValueError:
        raise InvalidRequest("the body is not JSON", status=400) from None
    problem = json_problem(value, strings=_ESCAPE.search(body) is not None)
    if problem is not None:
        path, what = problem
        raise InvalidRequest(f"{path or 'the body'}: {what}", {path or "body": what}, status=400)
    return value


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object: 415 without the JSON media type, 413 when too large, 400 when it is not JSON,
    not an object, or holds what cannot be stored (named by its path)."""
    require_json(request)
    body = parse_json(await read_body(request, max_bytes))
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object", status=400)
    return body
