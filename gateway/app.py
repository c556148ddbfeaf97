"""The Starlette application: routes, the lifespan that owns long-lived clients, error mapping."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from identity import LandingTokens, Pseudonymizer

from . import attribution_api, clickhouse_http, health, links_api, runfile
from .auth import TokenAuthority
from .errors import AuthError, InvalidRequest
from .ga4 import debug_route as ga4_debug
from .keys import load_keyrings
from .links import LinkSigner
from .machine import DEFAULT_SCANNER_MARKERS, Classifier, ClassifierConfig
from .metrics import Metrics
from .metrics import routes as metrics_routes
from .outbox import Outbox
from .pipeline import Pipeline
from .scheduler import NightlyAttribution
from .settings import Settings
from .tracking import Edge, EdgeDispatch
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


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidRequest)
    return JSONResponse(
        {"error": "invalid_request", "detail": exc.detail, "fields": exc.fields}, status_code=exc.status
    )


def _classifier(settings: Settings) -> Classifier:
    return Classifier(
        ClassifierConfig(
            scanner_markers=DEFAULT_SCANNER_MARKERS + settings.scanner_markers,
            apple_networks=settings.apple_networks,
            scanner_networks=settings.scanner_networks,
        )
    )


def create_app(settings: Settings) -> Starlette:
    """Build the gateway app. Nothing is opened (store, warehouse, threads) until the lifespan starts."""
    keys = load_keyrings(settings)
    authority = TokenAuthority(keys.api)
    pseudonymizer = Pseudonymizer(keys.pseudonym.keys)
    signer = LinkSigner(keys.signing, settings.public_url, pseudonymizer)
    metrics = Metrics()
    link = WarehouseLink(settings)
    edge = Edge(
        settings,
        signer,
        pseudonymizer,
        LandingTokens(keys.signing.keys, settings.landing_token_ttl),
        _classifier(settings),
        metrics,
    )
    sql = clickhouse_http.ClickHouseInterface(authority, settings.sql_max_seconds, settings.sql_max_result_rows)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        outbox = Outbox(
            settings.data_dir / "outbox.sqlite3",
            max_events=settings.outbox_max_events,
            synchronous=settings.outbox_sync,
        )
        edge.outbox = outbox
        pipeline = Pipeline(
            outbox, link, metrics, batch_rows=settings.pipeline_batch_rows, max_delay=settings.pipeline_max_delay
        )
        app.state.pipeline = pipeline
        await link.open()
        pipeline.start()
        nightly = NightlyAttribution(settings, link)
        nightly.start()
        app.state.nightly_attribution = nightly
        url = getattr(app.state, "listen_url", "")
        if url:  # only `ga4gw serve` sets it: tell the CLI who owns the data directory
            runfile.write(settings.data_dir, url)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(link.keep_connected)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                nightly.stop()
                runfile.clear(settings.data_dir)
                # Order matters: stop taking hits, ship what the outbox holds, then close the warehouse.
                outbox.close()
                await anyio.to_thread.run_sync(pipeline.stop)
                link.close()

    app = Starlette(
        routes=[
            *links_api.routes(),
            *attribution_api.routes(),
            *ga4_debug.routes(),
            *health.routes(),
            *metrics_routes(),
            Mount("/clickhouse", routes=clickhouse_http.routes(sql)),
        ],
        lifespan=lifespan,
        middleware=[Middleware(EdgeDispatch, edge=edge)],
        exception_handlers={AuthError: _auth_error, InvalidRequest: _invalid_request},
    )
    app.state.settings = settings
    app.state.authority = authority
    app.state.pseudonymizer = pseudonymizer
    app.state.link_signer = signer
    app.state.metrics = metrics
    app.state.warehouse_link = link
    return app
