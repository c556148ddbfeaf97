"""Liveness and readiness: ``GET /healthz`` (the process answers) and ``GET /readyz`` (it can do its job)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["routes"]


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """200 when the warehouse answers and its migrations are applied; else 503 with the details.

    The outbox's depth and the pipeline's last error are reported too: during a warehouse outage
    the edge keeps accepting hits into the outbox, which this shows growing.
    """
    state = await request.app.state.warehouse_link.state()
    migrations = state.migrations
    body = {
        "status": "ready" if state.ready else "not ready",
        "warehouse": {
            "reachable": state.reachable,
            "embedded": request.app.state.warehouse_link.target.embedded,
            "schema_version": migrations.current if migrations else None,
            "latest_version": migrations.latest if migrations else None,
            "error": state.error,
        },
    }
    pipeline = getattr(request.app.state, "pipeline", None)
    if pipeline is not None:
        flow = pipeline.state()
        body["outbox"] = {
            "pending": flow.pending,
            "oldest_age_seconds": round(flow.oldest_age_seconds, 3),
            "shipped": flow.shipped,
            "last_error": flow.last_error,
        }
    relay = getattr(request.app.state, "relay", None)
    if relay is not None:  # GA4 being down or throttling is not the gateway being unready: shown, not failed
        body["ga4"] = {"dry_run": relay.config.dry_run, "queued_requests": relay.queued, "last_error": relay.last_error}
    return JSONResponse(body, status_code=200 if state.ready else 503)


def routes() -> list[Route]:
    return [Route("/healthz", healthz, methods=["GET", "HEAD"]), Route("/readyz", readyz, methods=["GET", "HEAD"])]
