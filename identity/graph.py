"""The identity graph: which identifiers belong to one person, deterministically and with guards.

The result is a function of the set of edges and the clock's day, never of their arrival order:

1. **Counted edges.** An edge counts while its time is on or after the cut-off: the start of the
   clock's UTC day minus ``window_days`` (0: no window). Older edges are kept for provenance only.
2. **Shared identifiers.** For every identifier, count its distinct neighbours of each person kind
   (recipient, email, CRM id, user id) over the counted edges. When one of these counts exceeds
   ``max_persons``, the identifier is *shared* (one GA client id seen with four recipients: a
   shared or bot device) and none of its edges merges anything. Counting identifiers of one kind
   rather than resolved persons keeps the rule local and monotone: adding edges can only make more
   identifiers shared, so the outcome depends on the edge set alone, and an incremental update needs
   a full rebuild only when an identifier becomes shared or a counted edge leaves the window. The
   cost: one person known under several keys of one kind counts once per key.
3. **Persons.** Connected components of the counted edges between identifiers that are not shared.
   A shared identifier is a person of its own.
4. **Person id.** ``p_`` + 20 hex digits of SHA-256 of the person's *representative*: its identifier
   first seen (over every stored edge), ties broken by kind (crm, user, email, recipient, ga_client,
   device) then text. A person keeps its id when new identifiers join it (they are seen later); when
   two persons merge the result keeps the id of the one seen first.
5. **Primary id** (the relay's ``user_id``): the person's CRM id pseudonym, else user id pseudonym,
   else email pseudonym (first seen within a kind). Never the recipient: the sending module's
   subscriber key is never sent to GA4. **Client id**: the person's GA client id seen last.

Components are kept as member lists with every identifier pointing at its root (union by size,
relabelling the smaller side), so a lookup is two list reads and a dict read.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import InvalidIdentifier, UnknownIdentifier
from .model import Edge, Identifier, Kind

__all__ = ["GraphConfig", "IdentityGraph", "Resolution", "person_id_of"]

Clock = Callable[[], datetime]
Row = tuple[str, str, str, str, str, int]  # a_kind, a_value, b_kind, b_value, source, time in ms

_KINDS: tuple[Kind, ...] = tuple(Kind)  # a kind's code is its position; person kinds come first
_CODE = {kind.value: code for code, kind in enumerate(_KINDS)}
_PERSON = 4  # kinds with a code below this are person kinds
_RANK = bytes(
    (2 if k is Kind.EMAIL else 0 if k is Kind.CRM else 1 if k is Kind.USER else 3 if k is Kind.RECIPIENT else
     4 if k is Kind.GA_CLIENT else 5) for k in _KINDS
)  # fmt: skip
_PRIMARY = {_CODE[Kind.CRM]: 0, _CODE[Kind.USER]: 1, _CODE[Kind.EMAIL]: 2}
_GA = _CODE[Kind.GA_CLIENT]
_NEVER = 2**62
_DAY_MS = 86_400_000

# (representative, primary, client): min, min, max over a person's identifiers.
_Agg = tuple[tuple[int, int, str], tuple[int, int, str] | None, tuple[int, str] | None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class GraphConfig:
    """The guards: how many persons one identifier may join, how many days an edge counts (0: forever)."""

    max_persons: int = 3
    window_days: int = 395

    def __post_init__(self) -> None:
        if self.max_persons < 1:
            raise ValueError("max_persons must be at least 1")
        if self.window_days < 0:
            raise ValueError("window_days must be 0 (no window) or more")


@dataclass(frozen=True)
class Resolution:
    """What the relay needs about the person behind an identifier."""

    person_id: str
    user_id: str | None  # the value (pseudonym) of the person's primary id, None without one
    client_id: str | None  # the person's most recently seen GA client id
    shared: bool  # the identifier looked up is shared (it resolves to itself only)
    matched: Identifier  # the candidate that was found


class IdentityGraph:
    """Resolves identifiers to persons; fed with ``add_edges``/``add_rows``, rebuilt only when it must be."""

    # The resolution, recomputed by a rebuild (the stored edges and identifiers are not).
    _cutoff: int
    _oldest: int
    _root: list[int]
    _groups: dict[int, list[int]]
    _aggs: dict[int, _Agg]
    _shared: bytearray
    _counts: array[int]
    _pairs: set[int]

    def __init__(self, config: GraphConfig | None = None, clock: Clock = _utc_now) -> None:
        self.config = config or GraphConfig()
        self._clock = clock
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        self._kind = bytearray()
        self._first = array("q")
        self._last = array("q")
        self._ea = array("i")
        self._eb = array("i")
        self._es = bytearray()
        self._et = array("q")
        self._sources: list[str] = []
        self._source_code: dict[str, int] = {}
        self._reset_resolution(self._cutoff_at(clock()))
        self.rebuilds = 0

    # ----------------------------------------------------------------- feeding

    def add_edges(self, edges: Iterable[Edge]) -> None:
        """Add edges and update the resolution (a full rebuild only when a guard changes)."""
        self.add_rows(
            (e.a.kind.value, e.a.value, e.b.kind.value, e.b.value, e.source, e.millis) for e in edges
        )  # fmt: skip

    def add_rows(self, rows: Iterable[Row]) -> None:
        """Add edges as ``(a_kind, a_value, b_kind, b_value, source, millis)`` rows (the warehouse's form)."""
        cutoff = self._cutoff_at(self._clock())
        rebuild = cutoff > self._oldest
        self._cutoff = cutoff
        for ka, va, kb, vb, source, ms in rows:
            a, b = self._intern(ka, va), self._intern(kb, vb)
            if a == b:
                continue
            code = self._source_code.get(source)
            if code is None:
                code = self._source_code[source] = len(self._sources)
                self._sources.append(source)
            self._ea.append(a)
            self._eb.append(b)
            self._es.append(code)
            self._et.append(ms)
            changed_a, changed_b = self._seen(a, ms), self._seen(b, ms)
            if rebuild:
                continue
            if ms >= cutoff:
                self._oldest = min(self._oldest, ms)
                if self._count(a, b):
                    rebuild = True
                    continue
                if not (self._shared[a] or self._shared[b]):
                    self._union(a, b)
            # First and last seen only move outwards, so a cached min/max over the person stays right.
            for node, changed in ((a, changed_a), (b, changed_b)):
                if changed:
                    self._refresh(node)
        if rebuild:
            self.rebuild()

    def rebuild(self) -> None:
        """Recompute the whole resolution from the stored edges (after a guard changed, or to expire edges)."""
        self.rebuilds += 1
        self._reset_resolution(self._cutoff_at(self._clock()))
        cutoff, ea, eb, et = self._cutoff, self._ea, self._eb, self._et
        active = [i for i in range(len(et)) if et[i] >= cutoff]
        self._oldest = min((et[i] for i in active), default=_NEVER)
        for i in active:
            self._count(ea[i], eb[i])
        shared = self._shared
        for i in active:
            a, b = ea[i], eb[i]
            if not (shared[a] or shared[b]):
                self._union(a, b)

    def expire(self) -> bool:
        """Rebuild if an edge counted so far has left the window since; True when it did."""
        if self._cutoff_at(self._clock()) > self._oldest:
            self.rebuild()
            return True
        return False

    # ----------------------------------------------------------------- lookups

    def resolve(self, candidates: Identifier | Sequence[Identifier]) -> Resolution | None:
        """The person behind the first known candidate (pass ``Pseudonymizer.candidates``, newest key first)."""
        found = self._find(candidates)
        if found is None:
            return None
        node, matched = found
        rep, primary, client = self._aggregate(self._root[node])
        return Resolution(
            person_id=_person_id(rep[2]),
            user_id=primary[2].partition(":")[2] if primary else None,
            client_id=client[1].partition(":")[2] if client else None,
            shared=bool(self._shared[node]),
            matched=matched,
        )

    def person_id(self, candidates: Identifier | Sequence[Identifier]) -> str | None:
        """The person id of the first known candidate, or None."""
        found = self._find(candidates)
        if found is None:
            return None
        return _person_id(self._aggregate(self._root[found[0]])[0][2])

    def members(self, candidates: Identifier | Sequence[Identifier]) -> list[str]:
        """The ``kind:value`` keys of every identifier of the first known candidate's person (consent asks
        all of them: a person may have decided under any of their ids). A shared identifier is only itself."""
        found = self._find(candidates)
        if found is None:
            return []
        keys = self._keys
        return [keys[n] for n in self._members(found[0])]

    def is_shared(self, identifier: Identifier) -> bool:
        node = self._index.get(identifier.key)
        return node is not None and bool(self._shared[node])

    def persons(self) -> dict[str, str]:
        """Every identifier's ``kind:value`` mapped to its person id (for tests and exports)."""
        ids: dict[int, str] = {}
        out: dict[str, str] = {}
        for node, key in enumerate(self._keys):
            root = self._root[node]
            pid = ids.get(root)
            if pid is None:
                pid = ids[root] = _person_id(self._aggregate(root)[0][2])
            out[key] = pid
        return out

    def aliases(self) -> Iterator[tuple[str, str]]:
        """``(person_id_of(identifier), person id)`` for every identifier: what an event's stored ``person_id``
        means now. Every person id ever given is the id of one identifier alone (its representative then), so
        this maps an id given before a merge to the person it is part of today."""
        ids: dict[int, str] = {}
        for node, key in enumerate(self._keys):
            root = self._root[node]
            pid = ids.get(root)
            if pid is None:
                pid = ids[root] = _person_id(self._aggregate(root)[0][2])
            yield _person_id(key), pid

    def shared_identifiers(self) -> list[Identifier]:
        return sorted(Identifier.parse(self._keys[n]) for n in range(len(self._keys)) if self._shared[n])

    @property
    def edge_count(self) -> int:
        return len(self._et)

    @property
    def identifier_count(self) -> int:
        return len(self._keys)

    # ----------------------------------------------------------------- internals shared with explain.py

    def _node(self, identifier: Identifier) -> int:
        node = self._index.get(identifier.key)
        if node is None:
            raise UnknownIdentifier(identifier.key)
        return node

    def _members(self, node: int) -> list[int]:
        root = self._root[node]
        return list(self._groups.get(root, [root]))

    def _shared_reason(self, node: int) -> str:
        counts = self._counts[node * _PERSON : node * _PERSON + _PERSON]
        worst = max(range(_PERSON), key=lambda k: counts[k])
        return f"seen with {counts[worst]} {_KINDS[worst].value} identifiers (bound {self.config.max_persons})"

    def _edge(self, i: int) -> Edge:
        a, b = Identifier.parse(self._keys[self._ea[i]]), Identifier.parse(self._keys[self._eb[i]])
        return Edge.from_millis(a, b, self._sources[self._es[i]], self._et[i])

    # ----------------------------------------------------------------- machinery

    def _cutoff_at(self, now: datetime) -> int:
        if not self.config.window_days:
            return -_NEVER
        day = int(now.timestamp() * 1000) // _DAY_MS * _DAY_MS
        return day - self.config.window_days * _DAY_MS

    def _reset_resolution(self, cutoff: int) -> None:
        n = len(self._keys)
        self._cutoff = cutoff
        self._oldest = _NEVER
        self._root = list(range(n))
        self._groups = {}
        self._aggs: dict[int, _Agg] = {}
        self._shared = bytearray(n)
        self._counts = array("I", bytes(4 * _PERSON * n))
        self._pairs = set()

    def _intern(self, kind: str, value: str) -> int:
        key = f"{kind}:{value}"
        node = self._index.get(key)
        if node is None:
            code = _CODE.get(kind)
            if code is None:
                raise InvalidIdentifier(f"unknown identifier kind {kind!r}", key)
            node = self._index[key] = len(self._keys)
            self._keys.append(key)
            self._kind.append(code)
            self._first.append(_NEVER)
            self._last.append(-_NEVER)
            self._root.append(node)
            self._shared.append(0)
            self._counts.frombytes(bytes(4 * _PERSON))
        return node

    def _seen(self, node: int, ms: int) -> bool:
        changed = False
        if ms < self._first[node]:
            self._first[node] = ms
            changed = True
        if ms > self._last[node]:
            self._last[node] = ms
            changed = True
        return changed

    def _count(self, a: int, b: int) -> bool:
        """Count a counted edge's distinct person-kind neighbours; True when either end became shared."""
        ka, kb = self._kind[a], self._kind[b]
        if ka >= _PERSON and kb >= _PERSON:
            return False
        pair = (a << 32 | b) if a < b else (b << 32 | a)
        if pair in self._pairs:
            return False
        self._pairs.add(pair)
        bound, counts, became = self.config.max_persons, self._counts, False
        for node, other in ((a, kb), (b, ka)):
            if other < _PERSON:
                slot = node * _PERSON + other
                counts[slot] += 1
                if counts[slot] == bound + 1 and not self._shared[node]:
                    self._shared[node] = 1
                    became = True
        return became

    def _union(self, a: int, b: int) -> None:
        root = self._root
        ra, rb = root[a], root[b]
        if ra == rb:
            return
        groups = self._groups
        ga = groups.get(ra) or [ra]
        gb = groups.get(rb) or [rb]
        if len(ga) < len(gb):
            ra, rb, ga, gb = rb, ra, gb, ga
        for member in gb:
            root[member] = ra
        ga.extend(gb)
        groups[ra] = ga
        groups.pop(rb, None)
        if self._aggs:  # a full build has none cached; lookups compute them lazily
            agg_a, agg_b = self._aggs.pop(ra, None), self._aggs.pop(rb, None)
            if agg_a is not None and agg_b is not None:
                self._aggs[ra] = _combine(agg_a, agg_b)

    def _refresh(self, node: int) -> None:
        root = self._root[node]
        agg = self._aggs.get(root)
        if agg is not None:
            self._aggs[root] = _combine(agg, self._single(node))

    def _aggregate(self, root: int) -> _Agg:
        agg = self._aggs.get(root)
        if agg is None:
            agg = self._aggs[root] = self._aggregate_of(self._groups.get(root, [root]))
        return agg

    def _aggregate_of(self, members: Iterable[int]) -> _Agg:
        agg: _Agg | None = None
        for node in members:
            single = self._single(node)
            agg = single if agg is None else _combine(agg, single)
        assert agg is not None
        return agg

    def _single(self, node: int) -> _Agg:
        key, kind, first = self._keys[node], self._kind[node], self._first[node]
        prank = _PRIMARY.get(kind)
        return (
            (first, _RANK[kind], key),
            None if prank is None else (prank, first, key),
            (self._last[node], key) if kind == _GA else None,
        )

    def _find(self, candidates: Identifier | Sequence[Identifier]) -> tuple[int, Identifier] | None:
        if isinstance(candidates, Identifier):
            candidates = (candidates,)
        for candidate in candidates:
            node = self._index.get(candidate.key)
            if node is not None:
                return node, candidate
        return None


def _combine(x: _Agg, y: _Agg) -> _Agg:
    px, py, cx, cy = x[1], y[1], x[2], y[2]
    return (
        x[0] if x[0] <= y[0] else y[0],
        px if py is None or (px is not None and px <= py) else py,
        cx if cy is None or (cx is not None and cx >= cy) else cy,
    )


def _person_id(key: str) -> str:
    return "p_" + hashlib.sha256(key.encode()).hexdigest()[:20]


def person_id_of(identifier: Identifier) -> str:
    """The person id of ``identifier`` alone: the id the graph gives a person whose representative it is.

    An event stores this for its own most specific identifier (``events.person_id``): it needs no graph at ingest,
    and an attribution run maps it to the person the graph knows then (``IdentityGraph.aliases``).
    """
    return _person_id(identifier.key)
