"""The Starlette application: routes, the lifespan that owns long-lived clients, error mapping."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from consent import ConsentPolicy
from gateway.api import (
    attribution_api,
    clickhouse_http,
    consent_api,
    erasure_api,
    ga4_status_api,
    health,
    identify,
    import_api,
    ingest,
    links_api,
    mp_ingest,
    openapi,
    operator_api,
)
from gateway.api.auth import TokenAuthority
from gateway.api.ratelimit import RateLimitMiddleware, RateLimits, rate_limited_response
from gateway.api.sql_workers import QueryPool
from gateway.config.domain import graph_config
from gateway.config.keys import load_keyrings
from gateway.config.settings import Settings
from gateway.edge.links import LinkSigner
from gateway.edge.machine import Classifier, classifier_config
from gateway.edge.tracking import Edge, EdgeDispatch
from gateway.errors import AuthError, InvalidRequest, RateLimited
from gateway.ga4 import debug_route as ga4_debug
from gateway.ga4.ledger import Ledger
from gateway.ga4.payloads import PayloadBuilder
from gateway.ga4.relay import CONSUMER as GA4_CONSUMER
from gateway.ga4.relay import Relay, RelayConfig
from gateway.jobs.pipeline import Pipeline
from gateway.jobs.runs import AttributionRuns
from gateway.jobs.scheduler import NightlyAttribution
from gateway.state.consent_link import ConsentLink
from gateway.state.identity_link import IdentityLink
from gateway.stores import runfile
from gateway.stores.outbox import Outbox
from gateway.stores.redemptions import Redemptions
from gateway.stores.revocation import Revocations
from gateway.stores.warehouse_link import WarehouseLink
from gateway.telemetry.access import RequestLog
from gateway.telemetry.metrics import Metrics
from gateway.telemetry.metrics import routes as metrics_routes
from identity import LandingTokens, Pseudonymizer

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


async def _rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    status, headers, body = rate_limited_response(exc)
    return Response(body, status_code=status, headers={k.decode(): v.decode() for k, v in headers})


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client went away (or was cut off by the read timeout) before its body arrived: nobody to answer."""
    log.debug("client %s left before its request body arrived (%s)", request.client, request.url.path)
    return Response(status_code=400)


def _classifier(settings: Settings) -> Classifier:
    return Classifier(classifier_config(settings))


async def _load_identity(link: WarehouseLink, identity: IdentityLink) -> None:
    """Load the identity graph once the warehouse answers (in a thread: a million edges take seconds)."""
    while link.warehouse is None:
        await anyio.sleep(1)
    try:
        await anyio.to_thread.run_sync(identity.load, link.warehouse)
    except Exception:  # the gateway works without it: events keep their own ids until the next start
        log.exception("loading the identity graph failed")


async def _keep_consent(link: WarehouseLink, consent: ConsentLink, outbox: Outbox, every: float) -> None:
    """Load the consent ledger once the warehouse answers (retrying until it works), then keep taking
    what other gateway instances record. Until it is loaded the relay waits (see ``Relay``)."""
    while not consent.loaded:
        wh = link.warehouse
        if wh is not None:
            try:
                await anyio.to_thread.run_sync(consent.load, wh, outbox)
                continue
            except Exception:
                log.exception("loading the consent ledger failed; trying again")
        await anyio.sleep(1)
    while True:
        await anyio.sleep(every)
        wh = link.warehouse
        if wh is not None:
            try:
                await anyio.to_thread.run_sync(consent.refresh, wh)
            except Exception as exc:
                log.warning("refreshing consent from the ledger failed: %s", exc)


def consent_link(settings: Settings, pseudonymizer: Pseudonymizer) -> ConsentLink:
    policy = ConsentPolicy.from_names(
        settings.consent_opt_in_regions,
        settings.consent_granted_in_opt_in,
        settings.consent_denied_elsewhere,
        settings.consent_policy_version,
    )
    return ConsentLink(
        policy,
        pseudonymizer,
        personal_links=settings.consent_personal_links,
        default_region=settings.consent_default_region,
    )


def relay_config(settings: Settings) -> RelayConfig:
    """The relay's settings (also what ``ga4gw ga4 status`` reports)."""
    return RelayConfig(
        measurement_id=settings.ga4_measurement_id,
        api_secret=str(settings.ga4_api_secret),
        origin=settings.ga4_origin,
        concurrency=settings.ga4_concurrency,
        timeout=settings.ga4_timeout,
        max_backoff=settings.ga4_max_backoff,
        expired=settings.ga4_expired,
        batch_delay=settings.ga4_batch_delay,
        settle_seconds=settings.ga4_settle_seconds,
        verdicts=settings.ga4_relay_verdicts,
        ledger_days=settings.ga4_ledger_days,
    )


def _middleware(settings: Settings, edge: Edge, rate_limits: RateLimits) -> list[Middleware]:
    """The edge first: /o/ and /c/ never reach the rate limits, nor the request log unless it is asked for them."""
    edge_first = [Middleware(EdgeDispatch, edge=edge), Middleware(RequestLog)]
    if settings.access_log_edge:
        edge_first.reverse()
    return [*edge_first, Middleware(RateLimitMiddleware, limits=rate_limits)]


def create_app(settings: Settings) -> Starlette:
    """Build the gateway app. Nothing is opened (store, warehouse, threads) until the lifespan starts."""
    keys = load_keyrings(settings, generate=True)
    revocations = Revocations.in_dir(settings.data_dir)
    authority = TokenAuthority(keys.api, revoked=revocations.token_revoked)
    rate_limits = RateLimits(settings.rate_auth_failures, settings.rate_api, settings.rate_mp)
    pseudonymizer = Pseudonymizer(keys.pseudonym.keys)
    signer = LinkSigner(keys.signing, settings.public_url, pseudonymizer, settings.link_destinations)
    metrics = Metrics()
    link = WarehouseLink(settings)
    landing_tokens = LandingTokens(keys.signing.keys, settings.landing_token_ttl)
    consent = consent_link(settings, pseudonymizer)
    classifier = _classifier(settings)
    edge = Edge(settings, signer, pseudonymizer, landing_tokens, classifier, metrics, consent)
    identity = IdentityLink(graph_config(settings), pseudonymizer)
    builder = PayloadBuilder(
        pseudonymizer,
        consent=consent,
        utm_source=settings.utm_source,
        verdicts=settings.ga4_relay_verdicts,
        resolve=identity.resolve,
        subjects=identity.subjects,
        analytics_denied=settings.consent_analytics_denied,
    )
    sql_limits = clickhouse_http.Limits(
        settings.sql_max_seconds, settings.sql_max_result_rows, settings.sql_max_result_bytes, settings.sql_max_memory
    )
    sql_pool = QueryPool(settings.sql_concurrency, settings.sql_queue)
    sql = clickhouse_http.ClickHouseInterface(authority, sql_limits, sql_pool)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        outbox = Outbox(
            settings.data_dir / "outbox.sqlite3",
            max_events=settings.outbox_max_events,
            synchronous=settings.outbox_sync,
            consumers=("warehouse", GA4_CONSUMER),
        )
        edge.outbox = outbox
        app.state.outbox = outbox
        redemptions = Redemptions(settings.data_dir / "landing_redeemed.sqlite3")
        app.state.redemptions = redemptions
        ledger_path = settings.data_dir / "ga4_ledger.sqlite3"
        lookups = Ledger(ledger_path)  # the ingest routes' own connection, for purchase de-duplication
        app.state.transactions = ingest.TransactionIndex(lookups)
        pipeline = Pipeline(
            outbox,
            link,
            metrics,
            batch_rows=settings.pipeline_batch_rows,
            max_delay=settings.pipeline_max_delay,
            identity=identity,
            consent=consent,
        )
        app.state.pipeline = pipeline
        relay = Relay(outbox, ledger_path, builder, relay_config(settings), metrics, link)
        app.state.relay = relay
        await link.open()
        sql_pool.start()
        pipeline.start()
        relay.start()
        runs = AttributionRuns(settings, link)
        app.state.attribution_runs = runs
        nightly = NightlyAttribution(settings, link, runs=runs)
        nightly.start()
        app.state.nightly_attribution = nightly
        url = getattr(app.state, "listen_url", "")
        if url:  # only `ga4gw serve` sets it: tell the CLI who owns the data directory
            runfile.write(settings.data_dir, url)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(link.keep_connected)
                tasks.start_soon(_load_identity, link, identity)
                tasks.start_soon(_keep_consent, link, consent, outbox, settings.consent_refresh)
                try:
                    yield
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            # Outside the cancelled task group, and shielded: an await in a cancelled scope would be
            # cancelled at once and the outbox would not be drained. Order matters: stop relaying
            # (requests in flight may finish), stop taking hits, ship what the outbox holds, close.
            with anyio.CancelScope(shield=True):
                nightly.stop()
                runs.stop()
                runfile.clear(settings.data_dir)
                await anyio.to_thread.run_sync(sql_pool.stop)  # kills analyst queries still running
                await anyio.to_thread.run_sync(relay.stop)
                outbox.stop_writing()
                await anyio.to_thread.run_sync(pipeline.stop)
                outbox.close()
                lookups.close()
                redemptions.close()
                link.close()
                revocations.close()

    app = Starlette(
        routes=[
            *links_api.routes(),
            *ingest.routes(),
            *import_api.routes(),
            *identify.routes(),
            *consent_api.routes(),
            *erasure_api.routes(),
            *mp_ingest.routes(),
            *ga4_status_api.routes(),
            *operator_api.routes(),
            *attribution_api.routes(),
            *ga4_debug.routes(),
            *health.routes(),
            *metrics_routes(),
            *openapi.routes(),
            Mount("/clickhouse", routes=clickhouse_http.routes(sql)),
        ],
        lifespan=lifespan,
        middleware=_middleware(settings, edge, rate_limits),
        exception_handlers={
            AuthError: _auth_error,
            InvalidRequest: _invalid_request,
            RateLimited: _rate_limited,
            ClientDisconnect: _client_gone,
        },
    )
    app.state.settings = settings
    app.state.authority = authority
    app.state.revocations = revocations
    app.state.rate_limits = rate_limits
    app.state.pseudonymizer = pseudonymizer
    app.state.link_signer = signer
    app.state.metrics = metrics
    app.state.relay_builder = builder
    app.state.identity = identity
    app.state.consent = consent
    app.state.classifier = classifier
    app.state.landing_tokens = landing_tokens
    app.state.mp_keyring = keys.api
    app.state.warehouse_link = link
    return app
