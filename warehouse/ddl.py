"""How a table is declared (``Table``) and rendered for a single node or a cluster (``Dialect``).

The base every schema module builds on: ``schema.py`` lists the migrations and the ``*_schema.py`` modules
declare their domain's tables, all with these two classes, so none of them needs to import another.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Dialect", "Table"]


@dataclass(frozen=True)
class Table:
    """A table declaration, independent of single-node or cluster deployment."""

    name: str
    columns: tuple[tuple[str, str], ...]
    engine: str = "MergeTree"  # family name: MergeTree, ReplacingMergeTree, ...
    engine_args: str = ""  # e.g. the version column of ReplacingMergeTree
    order_by: str = "tuple()"
    partition_by: str = ""
    ttl_column: str = ""  # a DateTime64 column; the TTL is retention months after it
    shard_key: str = "rand()"
    settings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Dialect:
    """How DDL is written for one deployment: database, optional cluster, retention."""

    database: str = "default"
    cluster: str = ""
    retention_months: int = 14

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER `{self.cluster}`" if self.cluster else ""

    def qualified(self, name: str) -> str:
        return f"`{self.database}`.`{name}`"

    def storage_name(self, table: Table) -> str:
        """The table that holds the parts: the ``_local`` one on a cluster."""
        return f"{table.name}_local" if self.cluster else table.name

    def ttl(self, table: Table) -> str:
        return f"toDateTime({table.ttl_column}) + toIntervalMonth({self.retention_months})"

    def create(self, table: Table) -> list[str]:
        """CREATE statements for ``table`` (one on a single node, two on a cluster)."""
        columns = ",\n    ".join(f"`{name}` {kind}" for name, kind in table.columns)
        storage = self.storage_name(table)
        if self.cluster:
            zk_path = f"'/clickhouse/tables/{{shard}}/{self.database}/{storage}'"
            args = ", ".join(a for a in (zk_path, "'{replica}'", table.engine_args) if a)
            engine = f"Replicated{table.engine}({args})"
        else:
            engine = f"{table.engine}({table.engine_args})"
        clauses = [f"ENGINE = {engine}"]
        if table.partition_by:
            clauses.append(f"PARTITION BY {table.partition_by}")
        clauses.append(f"ORDER BY {table.order_by}")
        if table.ttl_column:
            clauses.append(f"TTL {self.ttl(table)}")
        window = "replicated_deduplication_window" if self.cluster else "non_replicated_deduplication_window"
        table_settings = {(window if k == "deduplication_window" else k): v for k, v in table.settings}
        if table_settings:
            clauses.append("SETTINGS " + ", ".join(f"{k} = {v}" for k, v in table_settings.items()))
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.qualified(storage)}{self.on_cluster}\n(\n    {columns}\n)\n"
            + "\n".join(clauses)
        ]
        if self.cluster:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {self.qualified(table.name)}{self.on_cluster} "
                f"AS {self.qualified(storage)} "
                f"ENGINE = Distributed(`{self.cluster}`, `{self.database}`, `{storage}`, {table.shard_key})"
            )
        return statements

    def create_view(self, name: str, select: str) -> list[str]:
        """A plain view; on a cluster it exists on every node and reads the Distributed tables."""
        return [f"CREATE VIEW IF NOT EXISTS {self.qualified(name)}{self.on_cluster} AS\n{select}"]

    def replace_view(self, name: str, select: str) -> list[str]:
        """A view created or replaced in place: how a later migration changes what a released one created."""
        return [f"CREATE OR REPLACE VIEW {self.qualified(name)}{self.on_cluster} AS\n{select}"]

    def modify_ttl(self, table: Table) -> str:
        return f"ALTER TABLE {self.qualified(self.storage_name(table))}{self.on_cluster} MODIFY TTL {self.ttl(table)}"
