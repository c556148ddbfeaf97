"""``POST /v1/events/import`` (scope ``events:import``): a file of past events, through the running gateway.

``ga4gw import events FILE`` sends its file here when a gateway owns the data directory (the embedded warehouse
has one owner). The body is the file as it is: NDJSON (``application/x-ndjson``) or CSV (``text/csv``), streamed
to a temporary file under the data directory, then imported by ``imports.import_events`` in a thread: every line
checked before anything is written, the rows written on a warehouse connection of the import's own, the identity
edges added to the running graph. One import at a time (a second one waits). 200 with the counts; 422 naming each
bad line (``line 12.time``) with nothing stored.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.config.keys import load_keyrings
from gateway.errors import InvalidRequest
from warehouse import Warehouse

from .auth import authenticate
from .imports import ImportResult, import_events
from .ingest import count_personal_data

__all__ = ["routes"]

_MEDIA = {"application/x-ndjson": "ndjson", "application/jsonl": "ndjson", "text/csv": "csv"}
_MAX_BYTES = 8 * 1024**3  # a year of a large shop's orders and sessions is a few GB at most
_LOCK = "import_lock"


async def post_import(request: Request) -> JSONResponse:
    """Spool the body, then import it in a thread (see the module docstring)."""
    authenticate(request, "events:import")
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    fmt = _MEDIA.get(media)
    if fmt is None:
        raise InvalidRequest(f"send NDJSON or CSV: Content-Type one of {', '.join(_MEDIA)}", status=415)
    state = request.app.state
    link = state.warehouse_link
    if link.warehouse is None:
        return JSONResponse({"error": "unavailable", "detail": "the warehouse is not connected"}, status_code=503)
    if not hasattr(state, _LOCK):
        setattr(state, _LOCK, asyncio.Lock())
    settings = state.settings
    spool_dir = settings.data_dir / "imports"
    spool_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=spool_dir, prefix="upload-", suffix=f".{fmt}") as upload:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > _MAX_BYTES:
                raise InvalidRequest(f"the file is larger than {_MAX_BYTES:,} bytes; split it", status=413)
            upload.write(chunk)
        upload.flush()
        async with getattr(state, _LOCK):
            result = await anyio.to_thread.run_sync(_import, Path(upload.name), fmt, request)
    if result.bad_lines:  # the door's 422 shape, with the counts a caller reports
        detail = f"{result.bad_lines} bad line(s) of {result.lines}; nothing was stored"
        return JSONResponse({"error": "invalid_request", "detail": detail, "fields": result.errors,
                             **result.as_json()}, status_code=422)  # fmt: skip
    state.identity.add(result.new_edges)  # the relay resolves with the imported joins too
    count_personal_data(state.metrics, result.personal_data, "import")
    state.metrics.describe("ga4gw_imported_events_total", "Past events imported (never relayed to GA4)")
    state.metrics.inc("ga4gw_imported_events_total", result.stored)
    return JSONResponse(result.as_json())


def _import(path: Path, fmt: str, request: Request) -> ImportResult:
    state = request.app.state
    settings = state.settings
    wh = Warehouse(state.warehouse_link.target, cluster=settings.clickhouse_cluster)
    try:
        return import_events(path, fmt, lambda: wh, load_keyrings(settings).pseudonym.keys, spool_dir=path.parent)
    finally:
        wh.close()


def routes() -> list[Route]:
    return [Route("/v1/events/import", post_import, methods=["POST"])]
