"""``POST /v1/erasure`` (scope ``erasure:write``): erase a person from every store, synchronously.

    {"email": "ann@example.com"}  or  {"identifier": "recipient:sub-42"}  or  {"identifiers": [...]}
    optional "reason": free text (at most 500 characters, never the person's identifiers)

Answers 200 with ``{"erasure_id", "status", "identifiers", "rows": {table: count}, "left": {...}}``: no personal data.
The work runs in a worker thread (the event loop keeps serving); what lives on the event loop (the classifier's
memory, the consent snapshot) is forgotten there. ``status`` is ``partial`` when a GA4 request naming the person was
still in flight when the wait ran out (``left`` says so): running the erasure again finishes it.
"""

from __future__ import annotations

import logging

import anyio.from_thread
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from consent import Subject
from gateway.errors import ErasureFailed, InvalidRequest
from gateway.jobs.erasure import ErasureBusy, Stores, erase, parse_request
from warehouse import WarehouseError

from .auth import authenticate
from .bodies import read_json

__all__ = ["routes"]

log = logging.getLogger(__name__)
_MAX_BODY = 64 * 1024
_LANDING_MARGIN = 5.0  # seconds beyond the GA4 timeout for a request in flight to land


async def erasure(request: Request) -> JSONResponse:
    """``POST /v1/erasure`` (scope ``erasure:write``)."""
    principal = authenticate(request, "erasure:write")
    parsed = parse_request(await read_json(request, _MAX_BODY))
    state = request.app.state
    wh = state.warehouse_link.warehouse
    if wh is None:
        raise InvalidRequest("the warehouse is not connected: nothing was erased; try again", status=503)
    settings = state.settings
    stores = Stores(
        wh,
        state.outbox,
        settings.data_dir / "ga4_ledger.sqlite3",
        state.identity,
        state.pseudonymizer,
        holds=(state.pipeline.hold, state.relay.hold),
        send_wait=settings.ga4_timeout + _LANDING_MARGIN,
    )

    def forget_more(subject: Subject) -> dict[str, int]:  # in the worker thread: hop to the event loop
        counts = {"classifier": anyio.from_thread.run_sync(state.classifier.forget, subject.people)}
        consent = getattr(request.app.state, "consent", None)
        if consent is not None:
            counts["consent_snapshot"] = int(anyio.from_thread.run_sync(consent.forget, subject.values))
        return counts

    try:
        result = await anyio.to_thread.run_sync(erase, stores, parsed, principal.subject, forget_more)
    except ErasureBusy as exc:
        raise InvalidRequest(str(exc), status=503) from None
    except ErasureFailed as exc:  # after the deleting began: the audit row has it
        cause = exc.__cause__
        why = f" (the warehouse: {cause.message})" if isinstance(cause, WarehouseError) else ""
        raise InvalidRequest(f"{exc}{why}", {"erasure_id": exc.erasure_id}, status=503) from None
    except WarehouseError as exc:
        raise InvalidRequest(f"the warehouse failed ({exc.message}); run the erasure again", status=503) from None
    log.info("erasure %s by %s: %s, %d identifiers, %d rows", result.erasure_id, principal.subject, result.status,
             result.identifiers, sum(result.rows.values()))  # fmt: skip
    return JSONResponse(result.as_json())


def routes() -> list[Route]:
    return [Route("/v1/erasure", erasure, methods=["POST"])]
