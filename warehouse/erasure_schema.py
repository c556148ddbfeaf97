"""DDL of the erasure audit (``erasure_audit``, migration 8) and the statement that erases a subject's rows.

One audit row per erasure: when, by whom (the API token's subject or ``cli:<os user>``), an optional reason, how
many identifiers were erased and how many rows per table or store, and whether it completed. It holds no personal
data, not even a pseudonym: the counts say what was done, never to whom.

Why it has no TTL, unlike every other table: it is the controller's record that erasure requests were honoured
(GDPR art. 5(2), accountability), which must outlive the data it speaks of; ageing it out with the retention of
the events would delete the evidence together with the data. It holds nothing about a person, is written a few
times a year and can be trimmed by hand (``ALTER TABLE erasure_audit DELETE WHERE erased_at < ...``).

Erasing uses ``ALTER TABLE ... DELETE`` (a mutation) with ``mutations_sync = 2``, not a lightweight ``DELETE``: a
lightweight delete only masks rows until a later merge, while a mutation rewrites the parts that hold them, so when
the statement returns the data is gone from the active parts (on a cluster: from every replica).

A mutation's text outlives it: ClickHouse keeps it in ``system.mutations`` and in a ``mutation_<n>.txt`` file next to
the table's parts (a server drops finished ones past ``finished_mutations_to_keep``, 100 by default; chDB 4.4 was
measured to keep them all). Typed parameters are substituted into that text, so a ``has({people:Array(String)}, ...)``
condition would leave the person's identifiers there for good. The values therefore go into a key table
(``ErasureKeys``): a ``Memory`` table made for one erasure (never written to disk; on a cluster a ``Memory`` table on
every node behind a ``Distributed`` one, so that each replica's mutation reads every key), which the conditions read
with ``IN (SELECT ...)`` and which is dropped when the erasure ends. The mutation text then names only that table.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .ddl import Dialect, Table

if TYPE_CHECKING:  # only annotations: importing it would load the ClickHouse driver
    from .client import Warehouse

__all__ = ["ERASE_SETTINGS", "ERASURE_AUDIT", "ErasureKeys", "erase_rows", "erasure_audit"]

ERASURE_AUDIT: Table = Table(
    name="erasure_audit",
    columns=(
        ("erased_at", "DateTime64(3, 'UTC')"),
        ("erasure_id", "String"),
        ("requested_by", "String"),
        ("reason", "String"),
        ("identifiers", "UInt32"),
        ("rows", "Map(String, UInt64)"),
        ("status", "LowCardinality(String)"),  # done, or partial (the answer says what is left)
    ),
    order_by="(erased_at, erasure_id)",
    shard_key="cityHash64(erasure_id)",
)

# Wait for the mutation on every replica before returning: the caller reports rows as gone.
ERASE_SETTINGS: dict[str, object] = {"mutations_sync": 2}
# A replicated table's mutation may read another table only when told to (each replica reads the Distributed keys).
_CLUSTER_ERASE_SETTINGS: dict[str, object] = {**ERASE_SETTINGS, "allow_nondeterministic_mutations": 1}


def erasure_audit(d: Dialect) -> list[str]:
    return d.create(ERASURE_AUDIT)


def erase_rows(d: Dialect, table: Table, where: str) -> str:
    """A mutation deleting the rows matching ``where`` (typed placeholders only) from ``table``'s parts."""
    return f"ALTER TABLE {d.qualified(d.storage_name(table))}{d.on_cluster} DELETE WHERE {where}"


class ErasureKeys:
    """The values one erasure looks for, in a table of their own, so that no statement's text holds them.

    Each value belongs to a named set (``people``, ``devices``, ``ids``...); ``isin(column, name)`` is the condition
    "``column`` is one of the set's values". Use it as a context manager: the table is dropped on the way out,
    whatever happened.
    """

    def __init__(self, wh: Warehouse, d: Dialect) -> None:
        self.wh = wh
        self.d = d
        self.name = f"erasure_keys_{secrets.token_hex(8)}"  # random: nothing about the subject in the name
        self.settings = _CLUSTER_ERASE_SETTINGS if d.cluster else ERASE_SETTINGS

    def __enter__(self) -> ErasureKeys:
        local = self.d.qualified(self._local)
        self.wh.command(f"CREATE TABLE {local}{self.d.on_cluster} (`set` String, `value` String) ENGINE = Memory")
        if self.d.cluster:
            self.wh.command(
                f"CREATE TABLE {self.d.qualified(self.name)}{self.d.on_cluster} AS {local} "
                f"ENGINE = Distributed(`{self.d.cluster}`, `{self.d.database}`, `{self._local}`, rand())"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        for name in dict.fromkeys((self.name, self._local)):
            self.wh.command(f"DROP TABLE IF EXISTS {self.d.qualified(name)}{self.d.on_cluster} SYNC")

    @property
    def _local(self) -> str:
        return f"{self.name}_local" if self.d.cluster else self.name

    def add(self, set_name: str, values: Iterable[str]) -> None:
        """Add values to a set (sent in the insert's body, never in its text)."""
        rows = [(set_name, v) for v in sorted(set(values)) if v]  # an empty value would match every empty column
        settings = {"distributed_foreground_insert": 1} if self.d.cluster else {}
        self.wh.insert(self.d.qualified(self.name), rows, ["set", "value"], settings)

    def array(self, set_name: str) -> str:
        """The set's values as one array (a scalar subquery), for conditions ``IN`` cannot say (substrings)."""
        return f"(SELECT groupArray(`value`) FROM {self.d.qualified(self.name)} WHERE `set` = '{set_name}')"

    def isin(self, column: str, set_name: str) -> str:
        """``column IN (the set's values)``; ``set_name`` is one of ours, never user input."""
        return f"{column} IN (SELECT `value` FROM {self.d.qualified(self.name)} WHERE `set` = '{set_name}')"
