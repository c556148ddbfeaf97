"""Provenance: for one identifier, the person, its identifiers and the edges that joined them.

Explaining walks every stored edge once (a second or so for a million edges): it serves the CLI and
investigations, not the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

from .graph import IdentityGraph
from .model import Edge, Identifier

__all__ = ["ExplainedEdge", "Explanation", "SharedIdentifier", "explain"]


@dataclass(frozen=True)
class ExplainedEdge:
    """An edge touching the person, and whether it joined anything (``why`` says why not)."""

    edge: Edge
    counted: bool
    why: str  # "joined", "shared <kind:value>" or "older than the window"


@dataclass(frozen=True)
class SharedIdentifier:
    identifier: Identifier
    reason: str


@dataclass(frozen=True)
class Explanation:
    identifier: Identifier
    person_id: str
    shared: bool  # the identifier itself is shared: it resolves to itself only
    shared_reason: str  # why it is shared ("" when it is not)
    identifiers: tuple[Identifier, ...]  # the person's identifiers, sorted
    edges: tuple[ExplainedEdge, ...]  # every edge touching them, oldest first
    shared_neighbours: tuple[SharedIdentifier, ...]  # shared identifiers the person was seen with
    user_id: str | None
    client_id: str | None

    def lines(self) -> list[str]:
        """A plain-text report (what ``ga4gw identity explain`` prints)."""
        out = [
            f"identifier  {self.identifier}"
            + (f"  (shared, {self.shared_reason}: resolves to itself only)" if self.shared else ""),
            f"person      {self.person_id}",
            f"user_id     {self.user_id or '-'}",
            f"client_id   {self.client_id or '-'}",
            f"identifiers ({len(self.identifiers)}):",
        ]
        out += [f"  {ident}" for ident in self.identifiers]
        out.append(f"edges ({len(self.edges)}):")
        for item in self.edges:
            e = item.edge
            when = e.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            out.append(f"  {when}  {e.source:<16} {e.a} -- {e.b}  [{item.why}]")
        if self.shared_neighbours:
            out.append(f"shared identifiers ({len(self.shared_neighbours)}):")
            out += [f"  {s.identifier}  {s.reason}" for s in self.shared_neighbours]
        return out


def explain(graph: IdentityGraph, identifier: Identifier) -> Explanation:
    """Explain ``identifier``; raises ``UnknownIdentifier`` when no edge names it."""
    node = graph._node(identifier)
    members = set(graph._members(node))
    shared = graph._shared
    edges: list[ExplainedEdge] = []
    neighbours: dict[int, str] = {}
    ea, eb, et = graph._ea, graph._eb, graph._et
    for i in range(len(et)):
        a, b = ea[i], eb[i]
        if a not in members and b not in members:
            continue
        if et[i] < graph._cutoff:
            why = "older than the window"
        elif shared[a] or shared[b]:
            other = a if shared[a] else b
            why = f"shared {graph._keys[other]}"
            if other not in members:
                neighbours[other] = graph._shared_reason(other)
        else:
            why = "joined"
        edges.append(ExplainedEdge(graph._edge(i), why == "joined", why))
    if shared[node]:
        neighbours.pop(node, None)
    resolution = graph.resolve(identifier)
    assert resolution is not None
    edges.sort(key=lambda x: (x.edge.at, x.edge.a, x.edge.b, x.edge.source))
    return Explanation(
        identifier=identifier,
        person_id=resolution.person_id,
        shared=resolution.shared,
        shared_reason=graph._shared_reason(node) if resolution.shared else "",
        identifiers=tuple(sorted(Identifier.parse(graph._keys[m]) for m in members)),
        edges=tuple(edges),
        shared_neighbours=tuple(
            sorted(
                (SharedIdentifier(Identifier.parse(graph._keys[n]), r) for n, r in neighbours.items()),
                key=lambda s: s.identifier,
            )
        ),
        user_id=resolution.user_id,
        client_id=resolution.client_id,
    )
