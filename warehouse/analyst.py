"""Analyst queries: checked on the engine's own syntax tree, run read-only with limits, streamed, killable.

``Analyst.prepare`` asks the engine to format the query (the SQL travels as a query parameter, so
nothing of it runs) and to print its syntax tree (``EXPLAIN AST`` of that formatting, with the
same parameters the query will run with); ``sql_policy`` decides on the tree. What runs is the
formatting that was checked.

``Analyst.execute`` runs a checked query on a connection of its own: the embedded engine gets a
fresh chDB connection per query (well under a millisecond), the limits set on it and
``readonly = 1`` last, so nothing the query says can change them; a server gets the same
settings on the request, ``readonly = 1`` last, and its user should be read-only too (README).
Results come in blocks as the engine makes them (``send_query``); formats with a header or
footer cannot be cut into blocks and come whole, bounded by ``max_result_bytes``.
``Analyst.kill`` stops a running query from any thread, by the tag it ran with.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import chdb
from clickhouse_connect.driver.exceptions import ClickHouseError

from .client import Target, parse_dsn, server_client
from .errors import QueryError, QueryRefused, WarehouseError, WarehouseUnavailable
from .sql_ast import AstSyntaxError, parse_ast, plain_quoted_names
from .sql_policy import CheckedQuery, check_query, refuse_statement

__all__ = ["STREAMED_FORMATS", "Analyst", "escape_value", "unescape_value"]

# Formats whose blocks concatenate into one valid output (no header, footer or separators between rows
# of different blocks); the rest are materialized by the engine in one piece.
STREAMED_FORMATS = frozenset(
    {
        "TabSeparated", "TSV", "TabSeparatedRaw", "TSVRaw", "CSV", "JSONEachRow", "JSONCompactEachRow",
        "JSONLines", "NDJSON", "RowBinary", "Native", "LineAsString", "RawBLOB", "Null",
    }
)  # fmt: skip
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_IDENTIFIER_PARAM = re.compile(r"\{(\w+):\s*Identifier\s*\}")
_PLAIN_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.]*$")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def escape_value(value: str) -> str:
    """A value in ClickHouse's Escaped text form, as query parameters travel (``param_x`` on HTTP)."""
    return value.translate(_ESCAPES)


_UNESCAPES = {"b": "\b", "f": "\f", "r": "\r", "n": "\n", "t": "\t", "0": "\0", "a": "\a", "v": "\v"}
_ESCAPED = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)", re.S)


def unescape_value(value: str) -> str:
    """The plain text of a value in ClickHouse's Escaped form (the inverse of ``escape_value``)."""
    if "\\" not in value:
        return value

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] == "x" and len(code) == 3:
            return chr(int(code[1:], 16))
        return _UNESCAPES.get(code, code)

    return _ESCAPED.sub(one, value)


def _open_chdb(path: str) -> Any:
    """A new connection to the embedded engine (chDB ships no type hints)."""
    return chdb.connect(path)  # type: ignore[no-untyped-call]


def _quote(value: Any) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


# chDB wraps some errors in themselves: "Code: 73. DB::Exception: Code: 73. DB::Exception: ... (version x). (NAME)"
_NESTED_HEAD = re.compile(r"^(Code: \d+\. DB::Exception: )(?:Code: \d+\. DB::Exception: )+")
_NESTED_TAIL = re.compile(r"(?: \(version [\w.-]+\)\. \([A-Z_]+\))+$")


def _wrap(exc: BaseException) -> WarehouseError:
    text = str(exc)
    at = text.find("Code: ")
    text = text[at:] if at > 0 else text
    if _NESTED_HEAD.match(text):  # said once, as a server says it
        text = _NESTED_TAIL.sub("", _NESTED_HEAD.sub(r"\1", text))
    return QueryError.from_exception(RuntimeError(text))


class Analyst:
    """Runs analysts' queries on one warehouse (embedded or a server), separately from the gateway's own work."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._lock = threading.Lock()  # the checking and killing connections take one call at a time
        self._http: Any = None
        self._server_readonly = False
        try:
            if target.embedded:
                Path(target.path).mkdir(parents=True, exist_ok=True)
                self._checker = _open_chdb(target.path)
                self._killer = _open_chdb(target.path)
                self._checker.query(f"USE `{target.database}`")
                # chDB reads "SELEC 1" as an implicit SELECT of a column SELEC; a server does not, and neither do we:
                # a typo is then reported at its first word, as ClickHouse reports it.
                self._checker.query("SET implicit_select = 0")
                # Read-only, yet a SETTINGS clause may parse, so the policy names it instead of the engine.
                self._checker.query("SET readonly = 2")
            else:
                self._http = server_client(target, database=target.database, autogenerate_session_id=False)
                # A read-only server user (README) may not change ``readonly``; it already holds then.
                self._server_readonly = int(self._http.command("SELECT getSetting('readonly')") or 0) > 0
        except (RuntimeError, ClickHouseError, OSError) as exc:
            raise WarehouseUnavailable(f"cannot open the warehouse at {target!r} for analysts: {exc}") from None

    @classmethod
    def connect(cls, dsn: str) -> Analyst:
        return cls(parse_dsn(dsn))

    @property
    def database(self) -> str:
        return self.target.database

    def _check_call(self, sql: str, params: Mapping[str, str]) -> str:
        with self._lock:
            try:
                if self._http is None:
                    return str(self._checker.query(sql, "TabSeparatedRaw", params=dict(params)))
                # The output format as a setting: appending FORMAT to "EXPLAIN AST ... FORMAT x" would not parse.
                raw = self._http.raw_query(
                    sql, parameters=_plain(params), settings={"default_format": "TabSeparatedRaw"}
                )
                return bytes(raw).decode()
            except (RuntimeError, ClickHouseError) as exc:
                raise _wrap(exc) from None

    def prepare(self, sql: str, params: Mapping[str, str]) -> CheckedQuery:
        """Check a query; ``params`` are in Escaped form (as ``param_*`` arrive). Raises ``QueryError``."""
        try:
            formatted = self._check_call("SELECT formatQuery({q:String})", {"q": escape_value(sql)}).rstrip("\n")
        except QueryError as exc:
            raise _as_written(exc) from None
        refuse_statement(formatted)
        try:
            plain_quoted_names(formatted)
            for name in _IDENTIFIER_PARAM.findall(formatted):
                if not _PLAIN_IDENTIFIER.match(unescape_value(params.get(name, ""))):
                    raise AstSyntaxError(
                        f"the Identifier parameter {name!r} must be a plain name (letters, digits, _ and .)"
                    )
            tree = parse_ast(self._check_call("EXPLAIN AST " + formatted, params))
        except AstSyntaxError as exc:
            raise QueryRefused(f"gateway: {exc}", 62, "SYNTAX_ERROR") from None
        return check_query(tree, formatted, self.target.database)

    def execute(
        self, query: CheckedQuery, params: Mapping[str, str], settings: Mapping[str, Any], fmt: str, tag: str
    ) -> Iterator[bytes]:
        """Run a checked query and yield its output; ``readonly = 1`` is set last; ``tag`` names it for ``kill``."""
        if not _NAME.match(fmt) or not all(_NAME.match(name) for name in settings):
            raise QueryRefused("gateway: a format or setting name is not an identifier", 62, "SYNTAX_ERROR")
        if self._http is not None:
            yield from self._execute_http(query, params, settings, fmt, tag)
            return
        conn = _open_chdb(self.target.path)
        try:
            conn.query(f"USE `{self.target.database}`")
            for name, value in {**settings, "log_comment": tag, "readonly": 1}.items():
                conn.query(f"SET {name} = {_quote(value)}")
            if fmt not in STREAMED_FORMATS or not query.select:
                yield bytes(conn.query(query.sql, fmt, params=dict(params)).bytes())
                return
            stream = conn.send_query(query.sql, fmt, params=dict(params))
            try:
                for chunk in stream:
                    data = chunk.bytes()
                    if data:
                        yield data
            finally:
                stream.close()
        except RuntimeError as exc:  # chdb's ChdbError is a RuntimeError
            raise _wrap(exc) from None
        finally:
            conn.close()

    def _execute_http(
        self, query: CheckedQuery, params: Mapping[str, str], settings: Mapping[str, Any], fmt: str, tag: str
    ) -> Iterator[bytes]:
        wanted = {**settings, "query_id": tag, "cancel_http_readonly_queries_on_client_close": 1}
        if not self._server_readonly:
            wanted["readonly"] = 1
        try:
            if not query.fmt:  # as a setting: clickhouse-connect's fmt= appends a FORMAT clause errors would quote
                wanted["default_format"] = fmt
            stream = self._http.raw_stream(query.sql, parameters=_plain(params), settings=wanted)
            with stream:
                while chunk := stream.read(1 << 16):
                    yield chunk
        except ClickHouseError as exc:
            raise _wrap(exc) from None

    def kill(self, tag: str) -> None:
        """Stop the query that runs with ``tag``, from any thread; nothing happens when none does."""
        with self._lock:
            try:
                if self._http is None:
                    self._killer.query(
                        "KILL QUERY WHERE Settings['log_comment'] = {tag:String} ASYNC", "TSV", params={"tag": tag}
                    )
                else:
                    self._http.command("KILL QUERY WHERE query_id = {tag:String} ASYNC", parameters={"tag": tag})
            except (RuntimeError, ClickHouseError):
                pass  # the query finished meanwhile, or the engine is closing: nothing left to stop

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
            else:
                self._checker.close()
                self._killer.close()


def _as_written(exc: QueryError) -> QueryError:
    """ClickHouse's error about the analyst's query, without the ``formatQuery(...)`` call that carried it.

    The engine parsed the analyst's text itself (positions count in it), then named the query it ran,
    ``SELECT formatQuery('...')``, which the analyst never wrote.
    """
    at = exc.message.find(" In scope SELECT formatQuery(")
    if at < 0:
        return exc
    head = exc.message[:at].rstrip(":. ")
    return type(exc)(f"{head}. ({exc.name})" if exc.name else head, exc.code, exc.name)


def _plain(params: Mapping[str, str]) -> dict[str, str]:
    """Escaped parameter values back to plain text, for clickhouse-connect (which escapes them itself)."""
    return {name: unescape_value(value) for name, value in params.items()}
