"""ClickHouse for ga4-gateway: the only package that talks to clickhouse-connect.

Offers a client made from a DSN (embedded chDB or a server), versioned migrations
rendered for a single node or a cluster, the event row and a batched idempotent writer,
and analysts' queries checked on the engine's own syntax tree (``analyst``, imported on
use: it loads chDB itself).
"""

import importlib
from typing import TYPE_CHECKING, Any

from .ddl import Dialect
from .errors import (
    ConfigurationError,
    MigrationError,
    QueryError,
    QueryRefused,
    RowsRefused,
    WarehouseError,
    WarehouseUnavailable,
)
from .events import EVENT_COLUMN_NAMES, EventRow, revision_row
from .migrate import MigrationStatus, migrate, status
from .quarantine import EVENTS_QUARANTINE, Refused, quarantine
from .schema import GA4_DELIVERY_COLUMNS, MIGRATIONS
from .writer import EventWriter, batch_token

if TYPE_CHECKING:
    from .client import Target, Warehouse, parse_dsn

# The client imports the ClickHouse driver: it loads on first use, so a process that only builds event rows
# (the edge) never imports it. (migrate and writer name the client in annotations only.)
_LAZY = {"Target": "client", "Warehouse": "client", "parse_dsn": "client"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "EVENTS_QUARANTINE",
    "EVENT_COLUMN_NAMES",
    "GA4_DELIVERY_COLUMNS",
    "MIGRATIONS",
    "ConfigurationError",
    "Dialect",
    "EventRow",
    "EventWriter",
    "MigrationError",
    "MigrationStatus",
    "QueryError",
    "QueryRefused",
    "Refused",
    "RowsRefused",
    "Target",
    "Warehouse",
    "WarehouseError",
    "WarehouseUnavailable",
    "batch_token",
    "migrate",
    "parse_dsn",
    "quarantine",
    "revision_row",
    "status",
]
