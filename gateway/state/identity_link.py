"""The gateway's identity graph: edges from every event, kept in the warehouse and resolved in memory.

Which events say that two identifiers belong together (``edges_of``):

    a click or open   recipient ~ GA client id (``_ga`` cookie)   source ``click_ga_cookie``
                      recipient ~ email pseudonym (link signed for an email)   ``email_link``
    the shop's event  client id ~ user id ~ email, as named together   ``server_event`` (imported ones too)
    MP ingest         client id ~ user id   ``mp_ingest``
    POST /v1/identify recipient (from the landing token) ~ client id ~ user id   ``landing_token``

Values are pseudonyms only: a recipient is ``rc_<kid>_...`` (the landing token carries that, never
the sending module's key), an email ``em_...``, a user id ``us_...``; GA client ids as the site holds
them. The pipeline writes an event batch's edges to ``identity_edges`` right after the events, then
adds them to the graph, so the warehouse and memory hold the same edges and a restart reloads them.
The relay reads the graph for ``user_id`` (the person's primary id) and ``client_id`` (their latest
real GA client id).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from identity import (
    Edge,
    Explanation,
    GraphConfig,
    Identifier,
    IdentityError,
    IdentityGraph,
    Kind,
    Linked,
    Pseudonymizer,
    Resolution,
    UnknownIdentifier,
    explain,
    linked,
    person_id_of,
    without,
)
from warehouse import EventRow

if TYPE_CHECKING:  # only annotations: importing it would load the ClickHouse driver
    from warehouse import Warehouse

__all__ = ["IdentityLink", "edges_of", "identifiers_of", "landing_pseudonym", "person_of"]

log = logging.getLogger(__name__)
_SOURCES = {"server": "server_event", "import": "server_event", "mp": "mp_ingest", "identify": "landing_token"}
_EMAIL_PSEUDONYM = re.compile(r"em_[A-Za-z0-9]+_[a-z2-7]{26}")


def _id(kind: Kind, value: str) -> Identifier | None:
    try:
        return Identifier(kind, value) if value else None
    except IdentityError:  # e.g. a value with spaces: not an identifier we can join on
        return None


def landing_pseudonym(recipient: str, pseudonymizer: Pseudonymizer) -> str:
    """The pseudonym a click's landing token carries for its recipient, so ``POST /v1/identify`` joins the very
    identifier the click names: the email's pseudonym itself for a link signed for an email alone (its recipient
    is that pseudonym), else the recipient key's ``rc_`` pseudonym."""
    return recipient if _EMAIL_PSEUDONYM.fullmatch(recipient) else pseudonymizer.pseudonym("rc", recipient)


def _pseudonym_id(pseudonym: str) -> Identifier | None:
    return _id(Kind.EMAIL if _EMAIL_PSEUDONYM.fullmatch(pseudonym) else Kind.RECIPIENT, pseudonym)


def _recipient(row: EventRow, pseudonymizer: Pseudonymizer) -> Identifier | None:
    """A hit's recipient: a link signed for an email alone carries the email's pseudonym as its recipient."""
    if not row.recipient:
        return None
    return _pseudonym_id(landing_pseudonym(row.recipient, pseudonymizer))


def identifiers_of(row: EventRow, pseudonymizer: Pseudonymizer) -> list[Identifier]:
    """The identifiers an event names, most specific person first (what the relay resolves)."""
    found = [
        _id(Kind.USER, row.user_id),
        _id(Kind.EMAIL, row.params.get("email_pseudonym", "")),
        _pseudonym_id(row.params.get("recipient_pseudonym", "")),  # an identification's (landing_pseudonym)
        _recipient(row, pseudonymizer),
        _id(Kind.GA_CLIENT, row.ga_client_id),
    ]
    return list(dict.fromkeys(i for i in found if i is not None))


def person_of(row: EventRow, pseudonymizer: Pseudonymizer) -> str:
    """``events.person_id`` of an event: the person id of its most specific identifier alone ('' when it names
    nobody). Cheap and independent of the graph, so every route can fill it when it builds the row; an
    attribution run maps it to the person the identity graph knows at the run (``IdentityGraph.aliases``)."""
    found = identifiers_of(row, pseudonymizer)
    return person_id_of(found[0]) if found else ""


def edges_of(row: EventRow, pseudonymizer: Pseudonymizer) -> list[Edge]:
    """The edges an event proves (see the module docstring)."""
    at = row.event_time
    if row.source in ("click", "open"):
        recipient = _recipient(row, pseudonymizer)
        if recipient is None:
            return []
        pairs = [(_id(Kind.GA_CLIENT, row.ga_client_id), "click_ga_cookie"),
                 (_id(Kind.EMAIL, row.params.get("email_pseudonym", "")), "email_link")]  # fmt: skip
        return [Edge(recipient, other, source, at) for other, source in pairs if other not in (None, recipient)]
    source = _SOURCES.get(row.source)
    if source is None:
        return []
    ids = identifiers_of(row, pseudonymizer)
    return [Edge(ids[0], other, source, at) for other in ids[1:]]


def explain_first(graph: IdentityGraph, candidates: Sequence[Identifier]) -> Explanation:
    """The explanation of the first of ``candidates`` (an identifier, or a raw value's pseudonyms under every key)
    that an edge names; ``UnknownIdentifier`` naming the first when none is."""
    for candidate in candidates:
        try:
            return explain(graph, candidate)
        except UnknownIdentifier:
            continue
    raise UnknownIdentifier(candidates[0].key)


class IdentityLink:
    """The graph the relay resolves with, fed by the pipeline. Thread-safe; loads from the warehouse once."""

    def __init__(self, config: GraphConfig, pseudonymizer: Pseudonymizer) -> None:
        self.config = config
        self._pseudonymizer = pseudonymizer
        self._graph = IdentityGraph(config)
        self._lock = threading.Lock()
        self._arrived: list[Edge] | None = None  # edges added while the stored ones load
        self._forgotten: set[Identifier] = set()  # erased while the stored ones load
        self.loaded = False

    def load(self, wh: Warehouse) -> None:
        """Build the graph from ``identity_edges`` (at start, in a thread) without missing newer edges."""
        from identity import load_graph

        with self._lock:
            self._arrived = []
        graph = load_graph(wh, self.config)
        with self._lock:
            graph.add_edges(self._arrived or ())
            if self._forgotten:  # the load may have read edges an erasure deleted meanwhile
                graph = without(graph, self._forgotten)
            self._graph, self._arrived, self._forgotten, self.loaded = graph, None, set(), True
        log.info("identity graph loaded: %d edges, %d identifiers", graph.edge_count, graph.identifier_count)

    def add(self, edges: Sequence[Edge]) -> None:
        if not edges:
            return
        with self._lock:
            self._graph.add_edges(edges)
            if self._arrived is not None:
                self._arrived.extend(edges)

    def linked(self, seeds: Iterable[Identifier]) -> Linked:
        """Every identifier of the person behind ``seeds``, never through a shared one (``identity.linked``)."""
        with self._lock:
            return linked(self._graph, seeds)

    @property
    def edge_count(self) -> int:
        with self._lock:
            return self._graph.edge_count

    def explain(self, candidates: Sequence[Identifier]) -> Explanation:
        """``explain_first`` on the graph the gateway runs with (the lock is held while it walks the person's
        edges: an operator's question, rare, and it sees the edges as the relay does)."""
        with self._lock:
            return explain_first(self._graph, candidates)

    def forget(self, identifiers: Iterable[Identifier]) -> int:
        """Erasure: rebuild the graph without the edges naming ``identifiers``; returns how many edges went."""
        gone = set(identifiers)
        with self._lock:
            before = self._graph.edge_count
            self._graph = without(self._graph, gone)
            if self._arrived is not None:
                self._arrived = [e for e in self._arrived if e.a not in gone and e.b not in gone]
                self._forgotten |= gone
            return before - self._graph.edge_count

    def edges(self, rows: Iterable[EventRow]) -> list[Edge]:
        return [edge for row in rows for edge in edges_of(row, self._pseudonymizer)]

    def subjects(self, row: EventRow) -> list[str]:
        """Every identifier value of the person behind an event (consent asks all of them), its own first."""
        candidates = identifiers_of(row, self._pseudonymizer)
        if not candidates:
            return []
        with self._lock:
            keys = self._graph.members(candidates)
        return list(dict.fromkeys([c.value for c in candidates] + [k.partition(":")[2] for k in keys]))

    def resolve(self, row: EventRow) -> Resolution | None:
        """The person behind an event, or None when none of its identifiers is known (or it names none)."""
        candidates = identifiers_of(row, self._pseudonymizer)
        if not candidates:
            return None
        with self._lock:
            return self._graph.resolve(candidates)
