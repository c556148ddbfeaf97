"""``GET /v1/ga4/status`` (scope ``ga4:read``): the running gateway's relay as it runs, for ``ga4gw ga4 status``.

Whether the relay sends, and where, is decided by the environment of the process that runs it, which is not
the environment of whoever runs the CLI: the CLI asks the gateway that owns the data directory (the run file)
through this route instead of guessing from its own settings. The ledger's counts come from the same file the
CLI could read; the mode, the origin and the measurement id come from the relay's own configuration. The API
secret is never part of the answer.
"""

from __future__ import annotations

import os
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.ga4.admin import as_json
from gateway.ga4.ledger import Ledger
from gateway.ga4.relay import CONSUMER, RelayConfig

from .auth import authenticate

__all__ = ["mode", "routes"]

_MAX_AGE = 72 * 3600


def mode(config: RelayConfig) -> dict[str, Any]:
    """The relay's mode as data: dry run or sending, the MP origin, the measurement id (never the secret)."""
    return {"dry_run": config.dry_run, "origin": config.origin, "measurement_id": config.measurement_id}


def _status(path: Any) -> Any:
    ledger = Ledger(path)
    try:
        return ledger.status(max_age=_MAX_AGE)
    finally:
        ledger.close()


async def ga4_status(request: Request) -> JSONResponse:
    authenticate(request, "ga4:read")
    state = request.app.state
    relay = state.relay
    status = await anyio.to_thread.run_sync(_status, state.settings.data_dir / "ga4_ledger.sqlite3")
    body = as_json(status, dry_run=relay.config.dry_run, outbox_waiting=state.outbox.pending(CONSUMER))
    body.update(mode(relay.config), gateway={"running": True, "pid": os.getpid()})
    return JSONResponse(body)


def routes() -> list[Route]:
    return [Route("/v1/ga4/status", ga4_status, methods=["GET"])]
