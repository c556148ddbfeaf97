"""A read-only ClickHouse HTTP interface on the gateway, so standard ClickHouse tools reach the warehouse.

The embedded engine has one owner, the gateway process; analysts (``clickhouse-connect``,
``curl``, ``ga4gw sql``) query it here with ClickHouse's own HTTP protocol:
``POST /clickhouse/?param_x=...`` with the SQL in the body (or a ``query`` parameter),
``default_format``, ``query_id`` and settings as URL parameters, errors as ClickHouse
errors (``Code: N. DB::Exception: ... (NAME)`` with ``X-ClickHouse-Exception-Code``).

Authentication: an API token with scope ``sql:read``, given as the password of basic
auth (any user name), as ``X-ClickHouse-Key``, as a ``password`` parameter or as a
bearer token. Safety: every query runs with ``readonly=1`` applied last, which makes
ClickHouse itself refuse INSERT, DDL, SYSTEM and the table functions that read files
or the network; client settings are limited to an allow-list and the limits below
cannot be raised.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from warehouse import Warehouse, WarehouseError

from .auth import TokenAuthority
from .errors import AuthError

__all__ = ["ClickHouseInterface", "routes"]

# URL parameters that are protocol, not settings.
_TRANSPORT = frozenset(
    {
        "query", "query_id", "database", "default_format", "user", "password", "quota_key", "compress",
        "decompress", "session_id", "session_timeout", "session_check", "buffer_size", "wait_end_of_query",
        "client_protocol_version", "enable_http_compression", "http_zlib_compression_level", "role",
        "send_progress_in_http_headers", "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
    }
)  # fmt: skip
# Settings a client may set; they only shape output or reduce work.
_ALLOWED_SETTINGS = frozenset(
    {
        "max_threads", "max_block_size", "max_execution_time", "max_result_rows", "max_result_bytes",
        "result_overflow_mode", "extremes", "join_use_nulls", "date_time_output_format", "date_time_input_format",
        "session_timezone", "use_client_time_zone", "output_format_json_quote_64bit_integers",
        "output_format_json_quote_decimals", "output_format_decimal_trailing_zeros",
        "cast_string_to_dynamic_use_inference",
        "output_format_native_encode_types_in_binary_format", "output_format_tsv_crlf_end_of_line", "mutations_sync",
    }
)  # fmt: skip
_READ_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS", "(")
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*\n?|/\*.*?\*/)*", re.S)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.I)
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
_STATUS = {62: 400, 60: 404, 81: 404, 164: 403, 497: 403, 516: 403, 115: 400, 456: 400, 457: 400, 159: 504}


@dataclass(frozen=True)
class _ClickHouseError(Exception):
    code: int
    name: str
    message: str

    def response(self, query_id: str) -> Response:
        body = f"Code: {self.code}. DB::Exception: {self.message}. ({self.name})\n"
        if self.message.startswith("Code: "):
            body = self.message.rstrip() + "\n"
        return PlainTextResponse(
            body,
            status_code=_STATUS.get(self.code, 500),
            headers={"X-ClickHouse-Exception-Code": str(self.code), "X-ClickHouse-Query-Id": query_id},
        )


_ESCAPES = {"b": "\b", "f": "\f", "r": "\r", "n": "\n", "t": "\t", "0": "\0", "a": "\a", "v": "\v"}
_ESCAPED = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)", re.S)


def _unescape(value: str) -> str:
    """Decode a ``param_*`` value: ClickHouse's HTTP interface takes them in its Escaped text format."""
    if "\\" not in value:
        return value

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] == "x" and len(code) == 3:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, code)

    return _ESCAPED.sub(one, value)


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
    return request.headers.get("x-clickhouse-key") or request.query_params.get("password", "")


class ClickHouseInterface:
    """Serves ClickHouse's HTTP protocol, read-only, over one ``Warehouse``."""

    def __init__(self, authority: TokenAuthority, max_seconds: float, max_result_rows: int) -> None:
        self._authority = authority
        self._max_seconds = max_seconds
        self._max_rows = max_result_rows

    def _settings(self, params: dict[str, str]) -> dict[str, Any]:
        settings: dict[str, Any] = {}
        for name, value in params.items():
            if name in _TRANSPORT or name.startswith("param_"):
                continue
            if name not in _ALLOWED_SETTINGS:
                raise _ClickHouseError(164, "READONLY", f"Cannot modify '{name}' setting in readonly mode")
            settings[name] = value
        try:
            seconds = float(settings.get("max_execution_time", 0)) or self._max_seconds
            rows = int(settings.get("max_result_rows", 0)) or self._max_rows
        except ValueError:
            raise _ClickHouseError(
                27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "a limit setting is not a number"
            ) from None
        settings["max_execution_time"] = min(seconds, self._max_seconds)
        if self._max_rows:
            settings["max_result_rows"] = min(rows, self._max_rows)
            settings.setdefault("result_overflow_mode", "throw")
        settings["readonly"] = 1  # last: ClickHouse applies settings in order
        return settings

    async def handle(self, request: Request) -> Response:
        params = dict(request.query_params)
        query_id = params.get("query_id") or str(uuid.uuid4())
        try:
            return await self._run(request, params, query_id)
        except _ClickHouseError as exc:
            return exc.response(query_id)

    async def _run(self, request: Request, params: dict[str, str], query_id: str) -> Response:
        try:
            self._authority.verify(_token_from(request)).require("sql:read")
        except AuthError as exc:
            code, name = (497, "ACCESS_DENIED") if exc.status == 403 else (516, "AUTHENTICATION_FAILED")
            raise _ClickHouseError(code, name, f"gateway: {exc}") from None
        body = await request.body()
        if len(body) > _MAX_QUERY_BYTES:
            raise _ClickHouseError(62, "SYNTAX_ERROR", "the query is longer than 1 MiB")
        try:
            sql = "\n".join(part for part in (params.get("query", ""), body.decode()) if part).strip()
        except UnicodeDecodeError:
            raise _ClickHouseError(62, "SYNTAX_ERROR", "the query is not UTF-8") from None
        if not sql:
            raise _ClickHouseError(62, "SYNTAX_ERROR", "Empty query")
        statement = _LEADING_COMMENTS.sub("", sql).upper()
        if not statement.startswith(_READ_STATEMENTS):
            raise _ClickHouseError(164, "READONLY", "gateway: Cannot execute query in readonly mode")
        settings = self._settings(params)
        named = _TRAILING_FORMAT.search(sql)
        fmt = named.group(1) if named else params.get("default_format", "TabSeparated")
        binds = {name[len("param_") :]: _unescape(value) for name, value in params.items() if name.startswith("param_")}
        wh: Warehouse | None = request.app.state.warehouse_link.reader
        if wh is None:
            raise _ClickHouseError(210, "NETWORK_ERROR", "gateway: the warehouse is unreachable, see /readyz")
        try:
            data = await anyio.to_thread.run_sync(wh.raw, sql, binds, settings, None if named else fmt)
        except WarehouseError as exc:
            raise _ClickHouseError(exc.code or 1002, exc.name or "UNKNOWN_EXCEPTION", exc.message) from None
        summary = json.dumps({"read_rows": "0", "read_bytes": "0", "result_bytes": str(len(data))})
        return Response(
            data,
            media_type=_CONTENT_TYPES.get(fmt, "application/octet-stream"),
            headers={
                "X-ClickHouse-Query-Id": query_id,
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Timezone": "UTC",
                "X-ClickHouse-Server-Display-Name": "ga4gw",
                "X-ClickHouse-Summary": summary,
            },
        )


async def _ping(request: Request) -> Response:
    return PlainTextResponse("Ok.\n")


def routes(interface: ClickHouseInterface) -> list[Route]:
    """The routes to mount under ``/clickhouse``."""
    return [
        Route("/ping", _ping, methods=["GET", "HEAD"]),
        Route("/", interface.handle, methods=["GET", "POST"]),
    ]
