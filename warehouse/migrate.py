"""Apply the schema migrations and keep the tables' TTL in line with the retention setting.

The applied versions live in ``schema_migrations``; running ``migrate`` twice changes
nothing the second time. Used at gateway start and by ``ga4gw migrate``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .ddl import Dialect
from .errors import MigrationError, WarehouseError
from .schema import MIGRATIONS, MIGRATIONS_TABLE, TTL_TABLES, Migration

if TYPE_CHECKING:  # only annotations: importing it would load the ClickHouse driver
    from .client import Warehouse

__all__ = ["MigrationStatus", "dialect_for", "migrate", "status"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MigrationStatus:
    """Where the schema stands: the versions applied and the ones still to apply."""

    applied: tuple[int, ...]
    pending: tuple[int, ...]

    @property
    def current(self) -> int:
        return max(self.applied, default=0)

    @property
    def latest(self) -> int:
        return max((m.version for m in MIGRATIONS), default=0)

    @property
    def up_to_date(self) -> bool:
        return not self.pending


def dialect_for(wh: Warehouse, retention_months: int = 14) -> Dialect:
    return Dialect(database=wh.database, cluster=wh.cluster, retention_months=retention_months)


def _applied(wh: Warehouse, dialect: Dialect) -> dict[int, str]:
    exists = wh.scalar(
        "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {name:String}",
        {"db": wh.database, "name": MIGRATIONS_TABLE.name},
    )
    if not exists:
        return {}
    rows = wh.rows(
        f"SELECT version, argMax(checksum, applied_at) FROM {dialect.qualified('schema_migrations')} GROUP BY version"
    )
    return {int(version): str(checksum) for version, checksum in rows}


def status(wh: Warehouse, retention_months: int = 14) -> MigrationStatus:
    """Read which migrations are applied, without changing anything."""
    applied = _applied(wh, dialect_for(wh, retention_months))
    pending = tuple(m.version for m in MIGRATIONS if m.version not in applied)
    return MigrationStatus(applied=tuple(sorted(applied)), pending=pending)


def _apply(wh: Warehouse, dialect: Dialect, migration: Migration) -> None:
    for statement in migration.statements(dialect):
        try:
            wh.command(statement)
        except WarehouseError as exc:
            raise MigrationError(
                f"migration {migration.version} ({migration.name}) failed: {exc.message}", migration.version
            ) from None
    wh.insert(
        dialect.qualified(MIGRATIONS_TABLE.name),
        [(migration.version, migration.name, migration.checksum(dialect), datetime.now(UTC))],
        [name for name, _ in MIGRATIONS_TABLE.columns],
    )


def _reconcile_ttl(wh: Warehouse, dialect: Dialect) -> None:
    """Make each table's TTL match the retention setting (it may have changed since creation)."""
    for table in TTL_TABLES:
        wanted = f"toIntervalMonth({dialect.retention_months})"
        create = wh.scalar(
            "SELECT create_table_query FROM system.tables WHERE database = {db:String} AND name = {name:String}",
            {"db": wh.database, "name": dialect.storage_name(table)},
        )
        if create and wanted not in create:
            log.info("setting the TTL of %s to %d months", table.name, dialect.retention_months)
            wh.command(dialect.modify_ttl(table), settings={"materialize_ttl_after_modify": 0})


def migrate(wh: Warehouse, retention_months: int = 14) -> list[int]:
    """Apply every pending migration in order; return the versions applied now."""
    dialect = dialect_for(wh, retention_months)
    for statement in dialect.create(MIGRATIONS_TABLE):
        wh.command(statement)
    applied = _applied(wh, dialect)
    done: list[int] = []
    for migration in MIGRATIONS:
        recorded = applied.get(migration.version)
        if recorded is None:
            log.info("applying migration %d: %s", migration.version, migration.name)
            _apply(wh, dialect, migration)
            done.append(migration.version)
        elif recorded != migration.checksum(dialect):
            log.warning(
                "migration %d (%s) differs from the one applied; migrations must never be edited",
                migration.version,
                migration.name,
            )
    _reconcile_ttl(wh, dialect)
    return done
