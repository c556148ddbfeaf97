from __future__ import annotations

from datetime import UTC, datetime, timedelta

from identity import Edge, EdgeStore, GraphConfig, Identifier, IdentityGraph, Kind, Pseudonymizer, load_graph
from warehouse import Warehouse, migrate

# Rows older than the retention TTL (14 months) vanish from the table, so stored times stay near today.
NOW = datetime.now(UTC).replace(microsecond=0)
ID = Identifier.parse


def _edges() -> list[Edge]:
    p = Pseudonymizer([("k1", "s" * 40)])
    email = Identifier(Kind.EMAIL, p.email("Ann.Lee@Example.com"))
    crm = Identifier(Kind.CRM, p.pseudonym("crm", "CUST-0042"))
    return [
        Edge(ID("recipient:sub-17"), email, "server_event", NOW - timedelta(days=3)),
        Edge(ID("recipient:sub-17"), ID("ga_client:123.456"), "click_ga_cookie", NOW - timedelta(days=2)),
        Edge(email, crm, "server_event", NOW - timedelta(days=1)),
        Edge(ID("ga_client:123.456"), ID("device:dv1"), "mp_ingest", NOW - timedelta(hours=1)),
        *(
            Edge(ID(f"recipient:bot{n}"), ID("ga_client:7.7"), "click_ga_cookie", NOW - timedelta(hours=n))
            for n in range(5)
        ),
    ]


def test_edges_round_trip_through_the_warehouse_and_rebuild_the_same_graph(warehouse: Warehouse) -> None:
    migrate(warehouse)
    edges = _edges()
    store = EdgeStore(warehouse, clock=lambda: NOW)
    assert store.append(edges[:4]) == 4
    assert store.append(edges[4:]) == 5
    config = GraphConfig(max_persons=3, window_days=30)
    in_memory = IdentityGraph(config, lambda: NOW)
    in_memory.add_edges(edges)
    loaded = load_graph(warehouse, config, clock=lambda: NOW)
    assert loaded.edge_count == 9
    assert loaded.persons() == in_memory.persons()
    assert loaded.shared_identifiers() == [ID("ga_client:7.7")]
    # Reading in small hash slices gives every row once.
    chunked = list(store.rows(chunk_rows=2))
    assert sorted(chunked) == sorted(store.rows())
    assert len(chunked) == 9
    assert [e.source for e in store.edges_of(ID("ga_client:123.456"))] == ["click_ga_cookie", "mp_ingest"]


def test_no_raw_identifier_reaches_the_edges_table(warehouse: Warehouse) -> None:
    migrate(warehouse)
    EdgeStore(warehouse).append(_edges())
    dump = warehouse.raw("SELECT * FROM identity_edges FORMAT TSV", fmt=None).decode().lower()
    assert "ann.lee" not in dump
    assert "example.com" not in dump
    assert "cust-0042" not in dump
    assert "em_k1_" in dump
    assert "crm_k1_" in dump
