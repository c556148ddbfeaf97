"""Liveness and readiness: ``GET /healthz`` (the process answers) and ``GET /readyz`` (it can do its job)."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["routes"]


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """200 when the warehouse answers, its migrations are applied and the background threads work; else 503.

    The outbox's depth, the events set apart in quarantine and the last errors are reported too: during a
    warehouse outage the edge keeps accepting hits into the outbox, which this shows growing. Nothing here
    echoes a row, a query or a secret: errors are kinds and codes, and ``problems`` fixed sentences (the
    details are in the log, redacted). Unauthenticated on purpose: load balancers call it.
    """
    app = request.app
    state = await app.state.warehouse_link.state()
    migrations = state.migrations
    problems = [] if state.ready else ["the warehouse is not ready"]
    body: dict[str, Any] = {
        "status": "ready",
        "warehouse": {
            "reachable": state.reachable,
            "embedded": app.state.warehouse_link.target.embedded,
            "schema_version": migrations.current if migrations else None,
            "latest_version": migrations.latest if migrations else None,
            "error": state.error,
        },
    }
    now, stall = time.time(), app.state.settings.stall_seconds
    threads: dict[str, str] = {}
    for name, part in (("outbox_writer", getattr(app.state, "outbox", None)),
                       ("pipeline", getattr(app.state, "pipeline", None)),
                       ("ga4_relay", getattr(app.state, "relay", None))):  # fmt: skip
        if part is not None:
            problem = part.health(now, stall)
            threads[name] = problem or "ok"
            if problem:
                problems.append(problem)
    pipeline = getattr(app.state, "pipeline", None)
    if pipeline is not None:
        flow = pipeline.state()
        body["outbox"] = {
            "pending": flow.pending,
            "oldest_age_seconds": round(flow.oldest_age_seconds, 3),
            "shipped": flow.shipped,
            "quarantined": flow.quarantined,
            "last_error": flow.last_error,
        }
    relay = getattr(app.state, "relay", None)
    if relay is not None:  # GA4 being down or throttling is not the gateway being unready: shown, not failed
        body["ga4"] = {"dry_run": relay.config.dry_run, "queued_requests": relay.queued, "last_error": relay.last_error}
    body["threads"] = threads
    if problems:
        body["status"] = "not ready"
        body["problems"] = problems
    return JSONResponse(body, status_code=503 if problems else 200)


def routes() -> list[Route]:
    return [Route("/healthz", healthz, methods=["GET", "HEAD"]), Route("/readyz", readyz, methods=["GET", "HEAD"])]
