"""Errors of the warehouse package; clickhouse-connect's errors are wrapped here at the boundary.

WarehouseError                base; ``code`` is ClickHouse's error code when it gave one
+-- WarehouseUnavailable      the server or embedded engine could not be reached or opened
+-- QueryError                ClickHouse refused or failed a query (syntax, types, read-only...)
|   +-- QueryRefused          the analyst interface refused a query before running it (``sql_policy``)
+-- MigrationError            a schema migration failed; names the migration
+-- ConfigurationError        the DSN or cluster setting cannot be used
"""

from __future__ import annotations

import re

__all__ = [
    "ConfigurationError",
    "MigrationError",
    "QueryError",
    "QueryRefused",
    "WarehouseError",
    "WarehouseUnavailable",
]

_CODE = re.compile(r"Code: (\d+)\.")
_NAME = re.compile(r"\(([A-Z_]{3,})\)")


class WarehouseError(Exception):
    """Base of the warehouse errors. ``code`` and ``name`` are ClickHouse's (0 and "" when unknown)."""

    def __init__(self, message: str, code: int = 0, name: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.name = name

    @classmethod
    def from_exception(cls, exc: BaseException) -> WarehouseError:
        """Wrap a driver exception, keeping ClickHouse's code and error name when present."""
        text = str(exc)
        code_match = _CODE.search(text)
        names = _NAME.findall(text)
        return cls(text, int(code_match.group(1)) if code_match else 0, names[-1] if names else "")


class WarehouseUnavailable(WarehouseError):
    """The warehouse cannot be reached (server down, engine path owned by another process)."""


class QueryError(WarehouseError):
    """ClickHouse refused or failed a query."""


class MigrationError(WarehouseError):
    """A migration failed; ``version`` names it."""

    def __init__(self, message: str, version: int) -> None:
        super().__init__(message)
        self.version = version


class ConfigurationError(WarehouseError):
    """The DSN or cluster setting cannot be used as given."""


class QueryRefused(QueryError):
    """The analyst interface refused a query before running it (not a read, a table function, a file...)."""
