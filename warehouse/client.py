"""A warehouse client made from a DSN: the embedded chDB engine or a ClickHouse server, same SQL.

``chdb://PATH`` opens the embedded engine in this process (one process owns a path;
chDB also allows one path per process). ``http(s)://user:password@host:port/database``
talks to a server. Either way callers get the same small surface, every value goes
through server-side typed parameters (``{name:Type}``), and driver errors come out
as this package's errors.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError, ProgrammingError

from .errors import (
    REFUSED_INPUT_CODES,
    ConfigurationError,
    QueryError,
    RowsRefused,
    WarehouseError,
    WarehouseUnavailable,
)

__all__ = ["Target", "Warehouse", "parse_dsn", "server_client"]


@dataclass(frozen=True)
class Target:
    """Where a DSN points. ``password`` is kept out of the repr."""

    embedded: bool
    database: str
    path: str = ""
    host: str = ""
    port: int = 0
    username: str = "default"
    password: str = ""
    secure: bool = False

    def __repr__(self) -> str:
        where = f"chdb://{self.path}" if self.embedded else f"{self.host}:{self.port}"
        return f"Target({where}, database={self.database!r})"


def parse_dsn(dsn: str, *, base: Path | None = None) -> Target:
    """Parse a warehouse DSN. A relative chDB path is taken from ``base`` (the working directory)."""
    if dsn.startswith("chdb://"):
        rest, _, query = dsn[len("chdb://") :].partition("?")
        if not rest:
            raise ConfigurationError("GA4GW_WAREHOUSE_DSN: chdb:// needs a directory path, e.g. chdb://./var/warehouse")
        database = parse_qs(query).get("database", ["default"])[0]
        path = Path(unquote(rest)).expanduser()
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        return Target(embedded=True, database=database, path=str(path.resolve()))
    parts = urlsplit(dsn)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("GA4GW_WAREHOUSE_DSN: expected chdb://PATH or http(s)://user:password@host:port/db")
    secure = parts.scheme == "https"
    return Target(
        embedded=False,
        database=parts.path.strip("/") or "default",
        host=parts.hostname,
        port=parts.port or (8443 if secure else 8123),
        username=unquote(parts.username or "default"),
        password=unquote(parts.password or ""),
        secure=secure,
    )


def server_client(target: Target, **options: Any) -> Any:
    """A clickhouse-connect HTTP client for a server ``target``; the gateway's connection and the analysts' share
    the address, credentials and timeouts, and differ only in ``options``."""
    return clickhouse_connect.get_client(
        host=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        secure=target.secure,
        connect_timeout=5,
        send_receive_timeout=300,
        **options,
    )


def _wrap(exc: BaseException) -> WarehouseError:
    if isinstance(exc, OperationalError | ProgrammingError) and "Code:" not in str(exc):
        return WarehouseUnavailable.from_exception(exc)
    return QueryError.from_exception(exc)


def _wrap_insert(exc: BaseException) -> WarehouseError:
    """An insert's error: ``RowsRefused`` when ClickHouse refused the data itself rather than the statement."""
    error = _wrap(exc)
    if isinstance(error, QueryError) and error.code in REFUSED_INPUT_CODES:
        return RowsRefused(error.message, error.code, error.name)
    return error


class Warehouse:
    """One connection to the warehouse, safe to share between threads (calls are serialised)."""

    def __init__(self, target: Target, *, cluster: str = "") -> None:
        self.target = target
        self.cluster = cluster
        self._lock = threading.RLock()
        try:
            if target.embedded:
                Path(target.path).mkdir(parents=True, exist_ok=True)
                self._client = clickhouse_connect.get_client(interface="chdb", path=target.path)
            else:
                self._client = server_client(target)
        except ClickHouseError as exc:
            raise WarehouseUnavailable.from_exception(exc) from None
        except OSError as exc:
            raise WarehouseUnavailable(f"cannot open the warehouse at {target!r}: {exc}") from None
        self._ensure_database()

    @classmethod
    def connect(cls, dsn: str, *, cluster: str = "") -> Warehouse:
        """Open the warehouse a DSN names (see the module docstring)."""
        return cls(parse_dsn(dsn), cluster=cluster)

    def reader(self) -> Warehouse:
        """Another connection to the same warehouse, for reports the gateway builds (attribution).

        Their reads never queue behind the pipeline's inserts on the shared lock. Analysts' own SQL goes
        through ``warehouse.analyst`` instead.
        """
        return Warehouse(self.target, cluster=self.cluster)

    @property
    def database(self) -> str:
        return self.target.database

    @property
    def embedded(self) -> bool:
        return self.target.embedded

    def _ensure_database(self) -> None:
        db = self.target.database
        exists = self.scalar("SELECT count() FROM system.databases WHERE name = {db:String}", {"db": db})
        if not exists:
            on_cluster = f" ON CLUSTER {self.cluster}" if self.cluster else ""
            self.command(f"CREATE DATABASE IF NOT EXISTS `{db}`{on_cluster}")
        with self._lock:
            self._client.database = db

    def rows(
        self, sql: str, params: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""
        with self._lock:
            try:
                result = self._client.query(sql, parameters=dict(params or {}), settings=dict(settings or {}))
            except ClickHouseError as exc:
                raise _wrap(exc) from None
        return [tuple(row) for row in result.result_rows]

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None when there is no row."""
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def raw(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        fmt: str | None = "TabSeparated",
    ) -> bytes:
        """Run a query and return ClickHouse's own output bytes in ``fmt`` (None: the query names its FORMAT)."""
        with self._lock:
            try:
                return bytes(
                    self._client.raw_query(sql, parameters=dict(params or {}), settings=dict(settings or {}), fmt=fmt)
                )
            except ClickHouseError as exc:
                raise _wrap(exc) from None

    def command(
        self, sql: str, params: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> None:
        """Run a statement that returns no rows (DDL, ALTER...)."""
        with self._lock:
            try:
                self._client.command(sql, parameters=dict(params or {}), settings=dict(settings or {}))
            except ClickHouseError as exc:
                raise _wrap(exc) from None

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        settings: Mapping[str, Any] | None = None,
    ) -> int:
        """Insert rows (column-ordered tuples) into ``table``; returns how many were sent."""
        if not rows:
            return 0
        with self._lock:
            try:
                self._client.insert(table, rows, column_names=list(columns), settings=dict(settings or {}))
            except ClickHouseError as exc:
                raise _wrap_insert(exc) from None
        return len(rows)

    def insert_raw(self, table: str, data: bytes, fmt: str, settings: Mapping[str, Any] | None = None) -> None:
        """Insert rows already encoded in a ClickHouse input format (e.g. ``JSONCompactEachRow``)."""
        if not data:
            return
        with self._lock:
            try:
                self._client.raw_insert(table, None, data, settings=dict(settings or {}), fmt=fmt)
            except ClickHouseError as exc:
                raise _wrap_insert(exc) from None

    def ping(self) -> bool:
        """True when the warehouse answers a trivial query."""
        try:
            return bool(self.scalar("SELECT 1") == 1)
        except WarehouseError:
            return False

    def close(self) -> None:
        with self._lock:
            self._client.close()
