"""Errors of the warehouse package; clickhouse-connect's errors are wrapped here at the boundary.

WarehouseError                base; ``code`` is ClickHouse's error code when it gave one
+-- WarehouseUnavailable      the server or embedded engine could not be reached or opened
+-- QueryError                ClickHouse refused or failed a query (syntax, types, read-only...)
|   +-- QueryRefused          the analyst interface refused a query before running it (``sql_policy``)
|   +-- RowsRefused           an insert's data itself was refused: a value the column cannot hold
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
    "RowsRefused",
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


class RowsRefused(QueryError):
    """The data of an insert was refused (a number out of its column's range, a time or text that cannot be read):
    sending the same rows again fails again, so the writer sets the row at fault apart instead (``EventWriter``)."""


# ClickHouse's codes for input it cannot parse or a column cannot hold (src/Common/ErrorCodes.cpp).
REFUSED_INPUT_CODES = frozenset({
    6,  # CANNOT_PARSE_TEXT
    25,  # CANNOT_PARSE_ESCAPE_SEQUENCE
    26,  # CANNOT_PARSE_QUOTED_STRING
    27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    32,  # ATTEMPT_TO_READ_AFTER_EOF
    38,  # CANNOT_PARSE_DATE
    41,  # CANNOT_PARSE_DATETIME
    53,  # TYPE_MISMATCH
    69,  # ARGUMENT_OUT_OF_BOUND (a decimal too large for its column)
    70,  # CANNOT_CONVERT_TYPE
    72,  # CANNOT_PARSE_NUMBER
    117,  # INCORRECT_DATA
    130,  # CANNOT_READ_ARRAY_FROM_TEXT
    131,  # TOO_LARGE_STRING_SIZE
    321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    407,  # DECIMAL_OVERFLOW
})  # fmt: skip


class MigrationError(WarehouseError):
    """A migration failed; ``version`` names it."""

    def __init__(self, message: str, version: int) -> None:
        super().__init__(message)
        self.version = version


class ConfigurationError(WarehouseError):
    """The DSN or cluster setting cannot be used as given."""


class QueryRefused(QueryError):
    """The analyst interface refused a query before running it (not a read, a table function, a file...)."""
