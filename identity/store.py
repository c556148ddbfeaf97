"""The identity graph's edges in the warehouse (``identity_edges``): append, and load for a rebuild.

Loading reads ClickHouse's TabSeparated output and splits it by hand: a million rows come back in
about a second, where building a Python tuple per row through the driver takes several. Identifier
values never hold tabs, newlines or backslashes (``Identifier`` refuses them), so no field needs
unescaping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .graph import GraphConfig, IdentityGraph, Row
from .model import Edge, Identifier

if TYPE_CHECKING:  # only annotations: importing it would load the ClickHouse driver
    from warehouse import Warehouse

__all__ = ["EdgeStore", "load_graph"]

_TABLE = "identity_edges"
_COLUMNS = ("edge_time", "a_kind", "a_value", "b_kind", "b_value", "source", "recorded_at")


class EdgeStore:
    """Appends edges to the warehouse and reads them back."""

    def __init__(self, wh: Warehouse, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._wh = wh
        self._clock = clock
        # On a cluster the Distributed table forwards synchronously, so a failure reaches the caller.
        self._settings: dict[str, object] = {"distributed_foreground_insert": 1} if wh.cluster else {}

    def append(self, edges: Iterable[Edge]) -> int:
        """Insert edges; returns how many. Identifiers are stored as given (pseudonyms or opaque ids)."""
        now = self._clock()
        rows = [(e.at, e.a.kind.value, e.a.value, e.b.kind.value, e.b.value, e.source, now) for e in edges]
        return self._wh.insert(_TABLE, rows, _COLUMNS, self._settings)

    def rows(self, chunk_rows: int = 250_000) -> Iterator[Row]:
        """Every edge as ``(a_kind, a_value, b_kind, b_value, source, millis)``, in no particular order.

        The table is read in hash slices of about ``chunk_rows`` rows, so memory stays bounded without
        sorting anything (the graph does not need the edges in order).
        """
        total = int(self._wh.scalar(f"SELECT count() FROM {_TABLE}") or 0)
        slices = max(1, -(-total // chunk_rows))
        for i in range(slices):
            data = self._wh.raw(
                f"SELECT toUnixTimestamp64Milli(edge_time), a_kind, a_value, b_kind, b_value, source FROM {_TABLE} "
                "WHERE cityHash64(a_value, b_value) % {n:UInt64} = {i:UInt64}",
                {"n": slices, "i": i},
            )
            for line in data.decode().splitlines():
                ms, ka, va, kb, vb, source = line.split("\t")
                yield ka, va, kb, vb, source, int(ms)

    def edges_of(self, identifier: Identifier) -> list[Edge]:
        """The stored edges naming ``identifier`` (typed parameters; for checks and erasure)."""
        rows = self._wh.rows(
            f"SELECT toUnixTimestamp64Milli(edge_time), a_kind, a_value, b_kind, b_value, source FROM {_TABLE} "
            "WHERE (a_kind = {k:String} AND a_value = {v:String}) OR (b_kind = {k:String} AND b_value = {v:String}) "
            "ORDER BY edge_time",
            {"k": identifier.kind.value, "v": identifier.value},
        )
        return [
            Edge.from_millis(Identifier.parse(f"{ka}:{va}"), Identifier.parse(f"{kb}:{vb}"), source, int(ms))
            for ms, ka, va, kb, vb, source in rows
        ]


def load_graph(
    wh: Warehouse, config: GraphConfig | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> IdentityGraph:
    """A graph holding every stored edge (what the pipeline does at start, then ``add_edges`` as edges arrive)."""
    graph = IdentityGraph(config, clock)
    graph.add_rows(EdgeStore(wh, clock).rows())
    return graph
