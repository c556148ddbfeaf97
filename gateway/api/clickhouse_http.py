"""A read-only ClickHouse HTTP interface on the gateway, so standard ClickHouse tools reach the warehouse.

The embedded engine has one owner, the gateway process; analysts (``clickhouse-connect``,
``curl``, ``ga4gw sql``) query it here with ClickHouse's own HTTP protocol:
``POST /clickhouse/?param_x=...`` with the SQL in the body (or a ``query`` parameter),
``default_format``, ``query_id`` and settings as URL parameters, errors as ClickHouse
errors (``Code: N. DB::Exception: ... (NAME)`` with ``X-ClickHouse-Exception-Code``).

Authentication: an API token with scope ``sql:read``, given as the password of basic auth
(any user name), as ``X-ClickHouse-Key`` or as a bearer token; never in the URL, where it
would end up in logs and shell histories.

Safety is by construction (``warehouse.analyst``): the engine's own parser reads the query and
only reads of the gateway's tables pass; it runs on a connection of its own with the limits
below and ``readonly = 1`` set last; client settings are limited to an allow-list and limits
can only be lowered. Queries run on the interface's own threads (``sql_workers``), a bounded
number at once with a bounded wait (503 beyond it), stream their output as the engine makes
it, and are killed when their client goes away.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.errors import AuthError, RateLimited
from warehouse import WarehouseError
from warehouse.analyst import Analyst

from .auth import TokenAuthority
from .ratelimit import RateLimits, client_address
from .sql_settings import allowed_settings
from .sql_workers import PoolFull, QueryPool, QueryRun

__all__ = ["ClickHouseInterface", "Limits", "routes"]


_URL_CREDENTIALS = ("password", "access_token")
_QUERY_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
_FORMAT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_MAX_QUERY_BYTES = 1 << 20
_CONTENT_TYPES = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "TSVWithNames": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8",
    "CSVWithNames": "text/csv; charset=UTF-8",
    "JSON": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
}
# ClickHouse's own mapping of a few codes to HTTP statuses.
_STATUS = {
    36: 400, 62: 400, 60: 404, 81: 404, 73: 400, 164: 403, 497: 403, 516: 403, 115: 400, 456: 400, 457: 400,
    159: 504, 201: 429, 202: 503, 210: 503,
}  # fmt: skip


@dataclass(eq=False)  # not frozen: raising sets __traceback__ on it
class _ClickHouseError(Exception):
    code: int
    name: str
    message: str
    retry_after: int = 0

    def body(self) -> str:
        if self.message.startswith("Code: "):
            return self.message.rstrip() + "\n"
        return f"Code: {self.code}. DB::Exception: {self.message}. ({self.name})\n"

    def response(self, query_id: str) -> Response:
        headers = {"X-ClickHouse-Exception-Code": str(self.code), "X-ClickHouse-Query-Id": query_id}
        if self.retry_after:
            headers["Retry-After"] = str(self.retry_after)
        return PlainTextResponse(self.body(), status_code=_STATUS.get(self.code, 500), headers=headers)


def _from_warehouse(exc: WarehouseError) -> _ClickHouseError:
    return _ClickHouseError(exc.code or 1002, exc.name or "UNKNOWN_EXCEPTION", exc.message)


@dataclass(frozen=True)
class Limits:
    """The ceilings of every analyst query; a client may ask for less, never more (0: no limit)."""

    max_seconds: float
    max_result_rows: int
    max_result_bytes: int
    max_memory: int

    def apply(self, asked: dict[str, str]) -> dict[str, Any]:
        """The settings a query runs with: the client's allowed ones, limits lowered to the ceilings."""
        settings: dict[str, Any] = dict(asked)
        ceilings = (
            ("max_execution_time", self.max_seconds, float),
            ("max_result_rows", self.max_result_rows, int),
            ("max_result_bytes", self.max_result_bytes, int),
            ("max_memory_usage", self.max_memory, int),
        )
        for name, ceiling, kind in ceilings:
            try:
                wanted = kind(asked.get(name, 0))
            except ValueError:
                raise _ClickHouseError(27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED", f"{name} is not a number") from None
            if ceiling:
                settings[name] = min(wanted, ceiling) if wanted > 0 else ceiling
        threads = os.cpu_count() or 1
        try:
            if int(asked.get("max_threads", 0)) > threads:  # more threads than cores is not less work
                settings["max_threads"] = threads
        except ValueError:
            raise _ClickHouseError(27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "max_threads is not a number") from None
        if self.max_result_rows or self.max_result_bytes:
            settings.setdefault("result_overflow_mode", "throw")
        return settings


def _token_from(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value, validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return ""
    if scheme.lower() == "bearer":
        return value.strip()
    return request.headers.get("x-clickhouse-key", "")


@dataclass(frozen=True)
class _Plan:
    """A query that passed the protocol checks, ready for a worker."""

    sql: str
    binds: dict[str, str]
    settings: dict[str, Any]
    fmt: str
    query_id: str  # the client's, echoed back
    tag: str = dataclasses.field(default_factory=lambda: f"ga4gw-{uuid.uuid4().hex}")  # ours, to kill it by


class ClickHouseInterface:
    """Serves ClickHouse's HTTP protocol, read-only, through its own worker threads."""

    def __init__(self, authority: TokenAuthority, limits: Limits, pool: QueryPool) -> None:
        self._authority = authority
        self.limits = limits
        self.pool = pool

    def _settings(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            asked = allowed_settings(params)
        except WarehouseError as exc:
            raise _from_warehouse(exc) from None
        return self.limits.apply(asked)

    async def handle(self, request: Request) -> Response:
        params = dict(request.query_params)
        query_id = params.get("query_id") or str(uuid.uuid4())
        if not _QUERY_ID.match(query_id):
            refused = _ClickHouseError(
                36, "BAD_ARGUMENTS", "gateway: query_id must be 1-128 ASCII letters, digits, _.:-"
            )
            return refused.response(str(uuid.uuid4()))
        try:
            return QueryResponse(self, await self._plan(request, params, query_id))
        except _ClickHouseError as exc:
            return exc.response(query_id)

    def _authenticate(self, request: Request) -> None:
        """The token must grant ``sql:read``; failures count against the client's limit (GA4GW_RATE_AUTH_FAILURES)
        and are logged without the token, as on every other route (``gateway.auth.authenticate``)."""
        limits: RateLimits = request.app.state.rate_limits
        client = client_address(request.scope)
        try:
            limits.check_auth(client)
        except RateLimited as exc:
            raise _ClickHouseError(201, "QUOTA_EXCEEDED", f"gateway: {exc}", exc.retry_after) from None
        token = _token_from(request)
        try:
            self._authority.verify(token).require("sql:read")
        except AuthError as exc:
            limits.auth_failed(client, request.url.path, str(exc).replace(token, "<token>") if token else str(exc))
            code, name = (497, "ACCESS_DENIED") if exc.status == 403 else (516, "AUTHENTICATION_FAILED")
            raise _ClickHouseError(code, name, f"gateway: {exc}") from None

    async def _plan(self, request: Request, params: dict[str, str], query_id: str) -> _Plan:
        sent = [name for name in _URL_CREDENTIALS if name in params]
        if sent:
            raise _ClickHouseError(
                36,
                "BAD_ARGUMENTS",
                f"gateway: credentials in the URL ({sent[0]}=) are refused, they end up in logs and histories; "
                "send the token as the basic auth password, in X-ClickHouse-Key or as a bearer token",
            )
        self._authenticate(request)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise _ClickHouseError(
                36,
                "BAD_ARGUMENTS",
                "gateway: external data (temporary tables sent with the query) is not accepted: every query runs "
                "read-only on a connection of its own, where no table can be created; join on a subquery, or "
                "pass values as query parameters ({name:Array(String)})",
            )
        body = bytearray()
        try:
            async for part in request.stream():
                body += part
                if len(body) > _MAX_QUERY_BYTES:
                    raise _ClickHouseError(62, "SYNTAX_ERROR", "gateway: the query is longer than 1 MiB")
        except ClientDisconnect:
            raise _ClickHouseError(210, "NETWORK_ERROR", "gateway: the client went away") from None
        try:
            sql = "\n".join(part for part in (params.get("query", ""), body.decode()) if part).strip()
        except UnicodeDecodeError:
            raise _ClickHouseError(62, "SYNTAX_ERROR", "gateway: the query is not UTF-8") from None
        if not sql:
            raise _ClickHouseError(62, "SYNTAX_ERROR", "Empty query")
        fmt = params.get("default_format", "TabSeparated")
        if not _FORMAT.match(fmt):
            raise _ClickHouseError(73, "UNKNOWN_FORMAT", "gateway: default_format must be a format name")
        binds = {name[len("param_") :]: value for name, value in params.items() if name.startswith("param_")}
        return _Plan(sql, binds, self._settings(params), fmt, query_id)

    def produce(self, analyst: Analyst, plan: _Plan, chosen: list[str]) -> Iterator[bytes]:
        """The work of one query on a worker thread: check it, then run it (``chosen`` gets its format)."""
        checked = analyst.prepare(plan.sql, plan.binds)
        chosen.append(checked.fmt or plan.fmt)
        yield from analyst.execute(checked, plan.binds, plan.settings, checked.fmt or plan.fmt, plan.tag)


class QueryResponse(Response):
    """Runs a planned query and streams its output; a client that goes away cancels (kills) the query."""

    def __init__(self, interface: ClickHouseInterface, plan: _Plan) -> None:
        super().__init__()
        self._interface = interface
        self._plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plan = self._plan
        analyst: Analyst | None = scope["app"].state.warehouse_link.analyst
        if analyst is None:
            error = _ClickHouseError(210, "NETWORK_ERROR", "gateway: the warehouse is unreachable, see /readyz")
            await error.response(plan.query_id)(scope, receive, send)
            return
        chosen: list[str] = []
        run = QueryRun(
            lambda: self._interface.produce(analyst, plan, chosen),
            lambda: analyst.kill(plan.tag),
            max_wait=self._interface.limits.max_seconds or 3600,
        )
        try:
            self._interface.pool.submit(run)
        except PoolFull as exc:
            busy = _ClickHouseError(202, "TOO_MANY_SIMULTANEOUS_QUERIES", f"gateway: {exc}; try again later")
            await busy.response(plan.query_id)(scope, receive, send)
            return
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_cancel_on_disconnect, receive, tasks.cancel_scope)
                await self._stream(run, chosen, scope, receive, send)
                tasks.cancel_scope.cancel()
        finally:
            run.cancel()

    async def _stream(self, run: QueryRun, chosen: list[str], scope: Scope, receive: Receive, send: Send) -> None:
        plan = self._plan
        try:
            first = await run.next()
        except WarehouseError as exc:
            await _from_warehouse(exc).response(plan.query_id)(scope, receive, send)
            return
        fmt = chosen[0] if chosen else plan.fmt
        headers = {
            "content-type": _CONTENT_TYPES.get(fmt, "application/octet-stream"),
            "x-clickhouse-query-id": plan.query_id,
            "x-clickhouse-format": fmt,
            "x-clickhouse-timezone": "UTC",
            "x-clickhouse-server-display-name": "ga4gw",
            "x-clickhouse-summary": json.dumps({"read_rows": "0", "read_bytes": "0"}),
        }
        raw = [(name.encode(), value.encode()) for name, value in headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        chunk = first
        while chunk is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            try:
                chunk = await run.next()
            except WarehouseError as exc:  # after the headers: ClickHouse appends the error to the body
                await send({"type": "http.response.body", "body": b"\n" + _from_warehouse(exc).body().encode()})
                return
        await send({"type": "http.response.body", "body": b""})


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


async def _ping(request: Request) -> Response:
    return PlainTextResponse("Ok.\n")


def routes(interface: ClickHouseInterface) -> list[Route]:
    """The routes to mount under ``/clickhouse``."""
    return [
        Route("/ping", _ping, methods=["GET", "HEAD"]),
        Route("/", interface.handle, methods=["GET", "POST"]),
    ]
