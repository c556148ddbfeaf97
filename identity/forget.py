"""Erasure's questions to the graph: every identifier of a person (``linked``), the graph without them (``without``).

``linked`` is stricter and wider than ``resolve``. Wider: it follows every stored edge, old ones past the window too
(an old edge still says the two identifiers were one person's). Stricter: an identifier is *shared* when it is shared
now or when, over all stored edges, it was seen with more than ``max_persons`` identifiers of one person kind; a shared
identifier is never followed and never part of the result, so erasing one person never reaches whoever shared a
device with them. Like ``explain`` it reads the graph's internals and walks every edge once: a second or so for a
million edges, fine for a rare erasure, never on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .graph import _PERSON, IdentityGraph, Row
from .model import Identifier

__all__ = ["Linked", "linked", "without"]


@dataclass(frozen=True)
class Linked:
    """The person behind some identifiers: theirs alone, the shared ones met on the way, their person ids."""

    identifiers: frozenset[Identifier]  # the seeds that are not shared, and everything joined to them
    shared: frozenset[Identifier]  # shared identifiers seen with them (left out); seeds among them too
    person_ids: frozenset[str]  # the graph's person ids of the identifiers (``events.person_id``, person keys)


def _neighbours(graph: IdentityGraph) -> dict[int, set[int]]:
    adjacency: dict[int, set[int]] = {}
    for a, b in zip(graph._ea, graph._eb, strict=True):
        adjacency.setdefault(a, set()).add(b)
        adjacency.setdefault(b, set()).add(a)
    return adjacency


def linked(graph: IdentityGraph, seeds: Iterable[Identifier]) -> Linked:
    """Every identifier joined to ``seeds`` by stored edges, never through a shared identifier.

    Seeds the graph does not know are kept as they are (an identifier may name events without any edge).
    """
    adjacency = _neighbours(graph)
    bound, kinds = graph.config.max_persons, graph._kind

    def shared(node: int) -> bool:
        if graph._shared[node]:
            return True
        counts = [0] * _PERSON
        for other in adjacency.get(node, ()):
            if kinds[other] < _PERSON:
                counts[kinds[other]] += 1
        return max(counts) > bound

    found: set[Identifier] = set()
    met: set[Identifier] = set()
    queue: list[int] = []
    seen: set[int] = set()
    for seed in seeds:
        node = graph._index.get(seed.key)
        if node is None:
            found.add(seed)
        elif node not in seen:
            seen.add(node)
            queue.append(node)
    while queue:
        node = queue.pop()
        identifier = Identifier.parse(graph._keys[node])
        if shared(node):
            met.add(identifier)
            continue
        found.add(identifier)
        for other in adjacency.get(node, ()):
            if other not in seen:
                seen.add(other)
                queue.append(other)
    person_ids = {pid for pid in (graph.person_id(i) for i in found) if pid is not None}
    return Linked(frozenset(found), frozenset(met), frozenset(person_ids))


def _rows(graph: IdentityGraph, gone: set[int]) -> Iterator[Row]:
    keys, sources = graph._keys, graph._sources
    for a, b, source, ms in zip(graph._ea, graph._eb, graph._es, graph._et, strict=True):
        if a in gone or b in gone:
            continue
        ka, _, va = keys[a].partition(":")
        kb, _, vb = keys[b].partition(":")
        yield ka, va, kb, vb, sources[source], ms


def without(graph: IdentityGraph, identifiers: Iterable[Identifier]) -> IdentityGraph:
    """A new graph of the same configuration holding every edge except those naming ``identifiers``."""
    gone = {node for node in (graph._index.get(i.key) for i in identifiers) if node is not None}
    rebuilt = IdentityGraph(graph.config, graph._clock)
    rebuilt.add_rows(_rows(graph, gone))
    return rebuilt
