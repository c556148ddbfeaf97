"""Reading request bodies with a hard size limit (never trusting Content-Length alone)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from .errors import InvalidRequest

__all__ = ["read_body", "read_json"]


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


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object; 400 when it is not JSON or not an object, 413 when too large."""
    try:
        body = json.loads(await read_body(request, max_bytes))
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the body is not JSON", status=400) from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object", status=400)
    return body
