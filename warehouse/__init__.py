"""ClickHouse for ga4-gateway: the only package that talks to clickhouse-connect.

Offers a client made from a DSN (embedded chDB or a server), versioned migrations
rendered for a single node or a cluster, the event row and a batched idempotent writer,
and analysts' queries checked on the engine's own syntax tree (``analyst``, imported on
use: it loads chDB itself).
"""

from .client import Target, Warehouse, parse_dsn
from .errors import (
    ConfigurationError,
    MigrationError,
    QueryError,
    QueryRefused,
    RowsRefused,
    WarehouseError,
    WarehouseUnavailable,
)
from .events import EVENT_COLUMN_NAMES, EventRow
from .migrate import MigrationStatus, migrate, status
from .quarantine import EVENTS_QUARANTINE, Refused, quarantine
from .schema import GA4_DELIVERY_COLUMNS, MIGRATIONS, Dialect
from .writer import EventWriter, batch_token

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
    "status",
]
