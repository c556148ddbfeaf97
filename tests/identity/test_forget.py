from __future__ import annotations

from datetime import UTC, datetime, timedelta

from identity import Edge, GraphConfig, Identifier, IdentityGraph, linked, without

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
ID = Identifier.parse


def edge(a: str, b: str, days_ago: float = 1) -> Edge:
    return Edge(ID(a), ID(b), "server_event", NOW - timedelta(days=days_ago))


def graph(*edges: Edge, window_days: int = 30) -> IdentityGraph:
    g = IdentityGraph(GraphConfig(max_persons=2, window_days=window_days), lambda: NOW)
    g.add_edges(edges)
    return g


def test_linked_follows_every_edge_of_the_person_old_ones_too() -> None:
    g = graph(edge("email:e1", "ga_client:1.1"), edge("ga_client:1.1", "user:u1"), edge("user:u1", "crm:c1", 90))
    found = linked(g, [ID("email:e1")])
    assert {i.key for i in found.identifiers} == {"email:e1", "ga_client:1.1", "user:u1", "crm:c1"}
    assert found.shared == frozenset()
    assert found.person_ids == {g.person_id(ID("email:e1")), g.person_id(ID("crm:c1"))}  # old edge: two persons


def test_linked_never_goes_through_a_shared_identifier_even_one_shared_long_ago() -> None:
    # the bot device saw three recipients (bound 2): now, and another device saw three a year ago
    g = graph(
        *(edge(f"recipient:r{i}", "ga_client:9.9") for i in range(3)),
        *(edge(f"recipient:r{i}", "device:old", 400) for i in (0, 5, 6)),
        edge("recipient:r0", "email:e0"),
    )
    found = linked(g, [ID("email:e0")])
    assert {i.key for i in found.identifiers} == {"email:e0", "recipient:r0"}
    assert {i.key for i in found.shared} == {"ga_client:9.9", "device:old"}
    assert linked(g, [ID("ga_client:9.9")]).shared == {ID("ga_client:9.9")}  # a shared seed is reported


def test_an_unknown_seed_is_kept_as_it_is() -> None:
    assert linked(graph(edge("email:e1", "user:u1")), [ID("user:nobody")]).identifiers == {ID("user:nobody")}


def test_without_drops_every_edge_naming_the_identifiers_and_keeps_the_rest() -> None:
    g = graph(edge("email:e1", "ga_client:1.1"), edge("ga_client:1.1", "user:u1"), edge("user:u2", "crm:c2"))
    rest = without(g, [ID("email:e1"), ID("ga_client:1.1")])
    assert rest.edge_count == 1
    assert rest.config == g.config
    assert rest.resolve(ID("email:e1")) is None
    assert rest.resolve(ID("user:u1")) is None
    assert rest.person_id(ID("crm:c2")) == g.person_id(ID("crm:c2"))
