"""The Starlette application: routes, the lifespan that owns long-lived clients, error mapping."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from . import clickhouse_http, health, runfile
from .auth import TokenAuthority
from .errors import AuthError
from .keys import load_keyrings
from .settings import Settings
from .warehouse_link import WarehouseLink

__all__ = ["create_app"]

log = logging.getLogger(__name__)


async def _auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    headers = {"WWW-Authenticate": 'Bearer realm="ga4gw"'} if exc.status == 401 else {}
    return JSONResponse(
        {"error": "unauthorized" if exc.status == 401 else "forbidden", "detail": str(exc)},
        status_code=exc.status,
        headers=headers,
    )


def create_app(settings: Settings) -> Starlette:
    """Build the gateway app. Nothing is opened until the lifespan starts."""
    signing, api = load_keyrings(settings)
    authority = TokenAuthority(api)
    link = WarehouseLink(settings)
    sql = clickhouse_http.ClickHouseInterface(authority, settings.sql_max_seconds, settings.sql_max_result_rows)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await link.open()
        url = getattr(app.state, "listen_url", "")
        if url:  # only `ga4gw serve` sets it: tell the CLI who owns the data directory
            runfile.write(settings.data_dir, url)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(link.keep_connected)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                runfile.clear(settings.data_dir)
                link.close()

    app = Starlette(
        routes=[*health.routes(), Mount("/clickhouse", routes=clickhouse_http.routes(sql))],
        lifespan=lifespan,
        exception_handlers={AuthError: _auth_error},
    )
    app.state.settings = settings
    app.state.signing_keys = signing
    app.state.authority = authority
    app.state.warehouse_link = link
    return app
