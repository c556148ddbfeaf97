"""The gateway's connection to the warehouse, kept alive in the background.

A ClickHouse server may be down when the gateway starts or later; the gateway keeps
serving (the hot path never queries ClickHouse) and reports it in ``/readyz``. The
embedded engine either opens at start or the start fails with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio
import anyio.to_thread

from gateway.config.settings import Settings
from gateway.telemetry.redaction import redact
from warehouse import (
    ConfigurationError,
    MigrationStatus,
    Warehouse,
    WarehouseError,
    WarehouseUnavailable,
    migrate,
    parse_dsn,
    status,
)
from warehouse.analyst import Analyst

__all__ = ["WarehouseLink", "WarehouseState", "error_reason"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarehouseState:
    """What ``/readyz`` reports about the warehouse."""

    reachable: bool
    migrations: MigrationStatus | None
    error: str = ""

    @property
    def ready(self) -> bool:
        return self.reachable and self.migrations is not None and self.migrations.up_to_date


def error_reason(exc: WarehouseError) -> str:
    """A warehouse error in fixed words (its kind, ClickHouse's code and name): what ``/readyz`` may show.

    The message itself can quote rows or the DSN; it goes to the log, redacted.
    """
    kind = "unreachable" if isinstance(exc, WarehouseUnavailable) else "query failed"
    return f"{kind} ({exc.code} {exc.name})" if exc.code else kind


class WarehouseLink:
    """Opens the warehouse, applies migrations, and re-connects while it is unreachable."""

    def __init__(self, settings: Settings, *, retry_seconds: float = 5.0) -> None:
        self._settings = settings
        self._retry = retry_seconds
        self.warehouse: Warehouse | None = None
        self.reader: Warehouse | None = None  # its own connection, for reports the gateway builds (attribution)
        self.analyst: Analyst | None = None  # connections of its own, for the analyst interface
        self.last_error = ""
        self.target = parse_dsn(settings.dsn)
        self.analyst_target = parse_dsn(settings.sql_dsn)
        if self.analyst_target.embedded != self.target.embedded or (
            self.target.embedded and self.analyst_target.path != self.target.path
        ):
            # chDB hosts one engine path per process: analysts can only read the gateway's own.
            raise ConfigurationError("GA4GW_SQL_WAREHOUSE_DSN: with an embedded warehouse it must be empty or the same")

    def _open(self) -> tuple[Warehouse, Warehouse, Analyst]:
        wh = Warehouse(self.target, cluster=self._settings.clickhouse_cluster)
        applied = migrate(wh, self._settings.retention_months)
        if applied:
            log.info("warehouse migrated to version %d", max(applied))
        return wh, wh.reader(), Analyst(self.analyst_target)

    async def open(self) -> None:
        """Open now; an embedded engine that cannot open is fatal, a server is retried later."""
        try:
            self.warehouse, self.reader, self.analyst = await anyio.to_thread.run_sync(self._open)
            self.last_error = ""
        except WarehouseError as exc:
            if self.target.embedded:
                raise
            self.last_error = error_reason(exc)
            log.error("warehouse %r unreachable, retrying every %.0fs: %s", self.target, self._retry,
                      redact(exc.message))  # fmt: skip

    async def keep_connected(self) -> None:
        """Runs for the app's lifetime: re-opens the warehouse while it is missing."""
        while True:
            await anyio.sleep(self._retry)
            if self.warehouse is None:
                await self.open()

    async def state(self) -> WarehouseState:
        wh = self.warehouse
        if wh is None:
            return WarehouseState(False, None, self.last_error or "not connected yet")
        try:
            migrations = await anyio.to_thread.run_sync(status, wh, self._settings.retention_months)
        except WarehouseError as exc:
            log.warning("the warehouse did not answer the readiness check: %s", redact(exc.message))
            return WarehouseState(False, None, error_reason(exc))
        return WarehouseState(True, migrations)

    def close(self) -> None:
        if self.analyst is not None:
            self.analyst.close()
        for wh in (self.reader, self.warehouse):
            if wh is not None:
                wh.close()
        self.warehouse, self.reader, self.analyst = None, None, None
