from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity import (
    Edge,
    GraphConfig,
    Identifier,
    IdentityGraph,
    InvalidIdentifier,
    Kind,
    Pseudonymizer,
    UnknownIdentifier,
    explain,
    person_id_of,
    rotation_edges,
)

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
ID = Identifier.parse


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def edge(a: str, b: str, days_ago: float = 1, source: str = "server_event") -> Edge:
    return Edge(ID(a), ID(b), source, NOW - timedelta(days=days_ago))


def graph(*edges: Edge, max_persons: int = 2, window_days: int = 30, clock: Clock | None = None) -> IdentityGraph:
    g = IdentityGraph(GraphConfig(max_persons=max_persons, window_days=window_days), clock or Clock())
    g.add_edges(edges)
    return g


def test_an_id_given_before_a_merge_maps_to_the_merged_person() -> None:
    # What events store (person_id_of their own identifier) and what a run maps it to (aliases).
    g = graph(edge("recipient:r1", "ga_client:1.1", 5, "click_ga_cookie"))
    purchase = person_id_of(ID("ga_client:2.2"))  # a client id nobody knew yet: a person of its own
    assert g.person_id(ID("ga_client:2.2")) is None
    g.add_edges([edge("recipient:r1", "ga_client:2.2", 1, "landing_token")])  # identified later
    aliases = dict(g.aliases())
    person = g.person_id(ID("recipient:r1"))
    assert person == person_id_of(ID("recipient:r1"))  # seen first: its representative
    assert aliases[purchase] == person
    assert aliases[person_id_of(ID("ga_client:1.1"))] == person
    assert set(aliases) == {person_id_of(ID(k)) for k in ("recipient:r1", "ga_client:1.1", "ga_client:2.2")}


def test_edges_join_identifiers_into_one_person_with_primary_and_client() -> None:
    g = graph(
        edge("recipient:r1", "email:em_k1_a", 5),
        edge("recipient:r1", "ga_client:1.1", 4, "click_ga_cookie"),
        edge("ga_client:2.2", "user:us_k1_u", 2, "landing_token"),
        edge("user:us_k1_u", "email:em_k1_a", 3),
    )
    persons = g.persons()
    assert len(set(persons.values())) == 1
    res = g.resolve(ID("ga_client:1.1"))
    assert res is not None
    assert res.person_id == persons["recipient:r1"]
    assert res.user_id == "us_k1_u"  # a user id beats an email; the recipient is never a user_id
    assert res.client_id == "2.2"  # the client id seen last
    assert not res.shared


def test_primary_prefers_crm_then_user_then_email_and_never_the_recipient() -> None:
    g = graph(edge("recipient:r1", "ga_client:1.1"))
    res = g.resolve(ID("recipient:r1"))
    assert res is not None
    assert res.user_id is None
    assert res.client_id == "1.1"
    g.add_edges([edge("recipient:r1", "email:em_k1_a")])
    assert g.resolve(ID("recipient:r1")).user_id == "em_k1_a"  # type: ignore[union-attr]
    g.add_edges([edge("crm:cr_k1_c", "email:em_k1_a")])
    assert g.resolve(ID("ga_client:1.1")).user_id == "cr_k1_c"  # type: ignore[union-attr]


def test_a_person_keeps_its_id_when_new_identifiers_join() -> None:
    g = graph(edge("recipient:r1", "email:em_k1_a", 20))
    before = g.person_id(ID("recipient:r1"))
    # "crm:0..." sorts before everything, but it is seen later, so it does not take over the id.
    g.add_edges([edge("crm:0first", "email:em_k1_a", 1), edge("ga_client:0.0", "recipient:r1", 1)])
    assert g.person_id(ID("crm:0first")) == g.person_id(ID("recipient:r1")) == before


def test_merging_two_persons_keeps_the_id_of_the_one_seen_first() -> None:
    g = graph(edge("recipient:r1", "email:em_k1_a", 10), edge("recipient:r2", "user:us_k1_b", 5))
    first, second = g.person_id(ID("recipient:r1")), g.person_id(ID("recipient:r2"))
    assert first != second
    g.add_edges([edge("email:em_k1_a", "user:us_k1_b", 1)])
    assert g.person_id(ID("recipient:r2")) == g.person_id(ID("email:em_k1_a")) == first


def test_a_client_id_seen_with_too_many_recipients_is_shared_and_stops_merging() -> None:
    g = graph(
        edge("recipient:r1", "ga_client:9.9", 3),
        edge("recipient:r2", "ga_client:9.9", 2),
        edge("recipient:r1", "email:em_k1_a", 2),
    )
    assert g.person_id(ID("recipient:r1")) == g.person_id(ID("recipient:r2"))  # two is within the bound
    assert g.rebuilds == 0
    g.add_edges([edge("recipient:r3", "ga_client:9.9", 1)])
    assert g.rebuilds == 1
    assert g.is_shared(ID("ga_client:9.9"))
    people = {g.person_id(ID(f"recipient:r{n}")) for n in (1, 2, 3)} | {g.person_id(ID("ga_client:9.9"))}
    assert len(people) == 4
    assert g.person_id(ID("email:em_k1_a")) == g.person_id(ID("recipient:r1"))  # other edges still join
    assert g.resolve(ID("recipient:r1")).client_id is None  # type: ignore[union-attr]
    assert g.resolve(ID("ga_client:9.9")).shared  # type: ignore[union-attr]
    assert g.shared_identifiers() == [ID("ga_client:9.9")]


def test_a_user_id_joining_too_many_emails_is_shared_too() -> None:
    g = graph(*(edge("user:guest", f"email:em_k1_{n}") for n in range(3)))
    assert g.is_shared(ID("user:guest"))
    assert len({g.person_id(ID(f"email:em_k1_{n}")) for n in range(3)}) == 3


def test_edges_older_than_the_window_do_not_count_and_expire_as_the_clock_moves() -> None:
    clock = Clock()
    g = graph(edge("recipient:r1", "email:em_k1_a", 40), edge("recipient:r1", "ga_client:1.1", 20), clock=clock)
    assert g.person_id(ID("email:em_k1_a")) != g.person_id(ID("recipient:r1"))
    assert g.person_id(ID("ga_client:1.1")) == g.person_id(ID("recipient:r1"))
    clock.now += timedelta(days=5)
    assert not g.expire()  # the 20-day edge still counts
    clock.now += timedelta(days=6)
    assert g.expire()
    assert g.person_id(ID("ga_client:1.1")) != g.person_id(ID("recipient:r1"))
    # An old edge also stops counting towards sharing.
    g2 = graph(*(edge(f"recipient:r{n}", "ga_client:9.9", 31 if n else 1) for n in range(3)))
    assert not g2.is_shared(ID("ga_client:9.9"))


def test_lookups_accept_every_candidate_pseudonym_during_a_key_rotation() -> None:
    old = Pseudonymizer([("k1", "o" * 40)])
    rotated = Pseudonymizer([("k2", "n" * 40), ("k1", "o" * 40)])
    g = graph(Edge(Identifier(Kind.EMAIL, old.email("Ann@Example.com")), ID("ga_client:1.1"), "server_event", NOW))
    candidates = [Identifier(Kind.EMAIL, p) for p in rotated.candidates("em", "ann@example.com")]
    assert candidates[0].value.startswith("em_k2_")
    res = g.resolve(candidates)
    assert res is not None
    assert res.matched == candidates[1]
    assert res.client_id == "1.1"
    assert g.resolve(candidates[:1]) is None  # the new key alone does not know the person yet
    g.add_edges(rotation_edges(Kind.EMAIL, rotated.candidates("em", "ann@example.com"), NOW))
    assert g.resolve(candidates).matched == candidates[0]  # type: ignore[union-attr]
    assert g.person_id(candidates[0]) == g.person_id(ID("ga_client:1.1"))


def test_explain_shows_the_person_its_identifiers_and_the_edges_that_joined_them() -> None:
    g = graph(
        edge("recipient:r1", "email:em_k1_a", 40),
        edge("recipient:r1", "ga_client:1.1", 3, "click_ga_cookie"),
        edge("recipient:r2", "ga_client:9.9", 2, "click_ga_cookie"),
        edge("recipient:r3", "ga_client:9.9", 2, "click_ga_cookie"),
        edge("recipient:r1", "ga_client:9.9", 1, "click_ga_cookie"),
        edge("recipient:r1", "user:us_k1_u", 1, "landing_token"),
    )
    x = explain(g, ID("ga_client:1.1"))
    assert x.identifiers == (ID("ga_client:1.1"), ID("recipient:r1"), ID("user:us_k1_u"))
    assert x.person_id == g.person_id(ID("recipient:r1"))
    whys = [(str(e.edge.a), str(e.edge.b), e.edge.source, e.why) for e in x.edges]
    assert whys == [
        ("recipient:r1", "email:em_k1_a", "server_event", "older than the window"),
        ("recipient:r1", "ga_client:1.1", "click_ga_cookie", "joined"),
        ("recipient:r1", "ga_client:9.9", "click_ga_cookie", "shared ga_client:9.9"),
        ("recipient:r1", "user:us_k1_u", "landing_token", "joined"),
    ]
    assert [s.identifier for s in x.shared_neighbours] == [ID("ga_client:9.9")]
    assert "3 recipient identifiers (bound 2)" in x.shared_neighbours[0].reason
    text = "\n".join(x.lines())
    assert x.person_id in text
    assert "landing_token" in text
    assert "2026-03-09T15:30:00.000Z" in text
    with pytest.raises(UnknownIdentifier):
        explain(g, ID("recipient:nobody"))


@pytest.mark.parametrize(
    "text", ["email", "phone:123", "email:", "email:a b", "email:a\\b", "email:a\tb", "ga_client:" + "1" * 257]
)
def test_malformed_identifiers_are_refused(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        ID(text)


def test_edges_are_checked() -> None:
    with pytest.raises(InvalidIdentifier, match="timezone"):
        Edge(ID("recipient:a"), ID("email:b"), "server_event", datetime(2026, 1, 1))
    with pytest.raises(InvalidIdentifier, match="source"):
        Edge(ID("recipient:a"), ID("email:b"), "Server Event", NOW)
    with pytest.raises(InvalidIdentifier, match="different"):
        Edge(ID("recipient:a"), ID("recipient:a"), "server_event", NOW)


# ------------------------------------------------------------------ order independence

_UNIVERSE = [
    "recipient:r1", "recipient:r2", "recipient:r3", "email:e1", "email:e2", "crm:c1",
    "user:u1", "ga_client:g1", "ga_client:g2", "device:d1",
]  # fmt: skip
_edges = st.lists(
    st.tuples(
        st.sampled_from(_UNIVERSE),
        st.sampled_from(_UNIVERSE),
        st.sampled_from(["click_ga_cookie", "landing_token", "mp_ingest"]),
        st.integers(min_value=0, max_value=50 * 24),  # hours ago; the window is 30 days
    ).filter(lambda t: t[0] != t[1]),
    max_size=25,
).map(lambda ts: [Edge(ID(a), ID(b), s, NOW - timedelta(hours=h)) for a, b, s, h in ts])


def _state(g: IdentityGraph) -> tuple[object, ...]:
    keys = sorted(g.persons())
    return (g.persons(), g.shared_identifiers(), [g.resolve(ID(k)) for k in keys])


@settings(max_examples=150, deadline=None)
@given(_edges, st.randoms(use_true_random=False), st.integers(min_value=1, max_value=6))
def test_persons_do_not_depend_on_the_order_or_batching_of_edges(
    edges: list[Edge], rnd: random.Random, batches: int
) -> None:
    reference = graph(*edges)
    reference.rebuild()
    shuffled = list(edges)
    rnd.shuffle(shuffled)
    incremental = graph()
    for n in range(batches):
        incremental.add_edges(shuffled[n::batches])
    assert _state(incremental) == _state(reference)


@settings(max_examples=75, deadline=None)
@given(_edges, _edges, st.integers(min_value=0, max_value=40))
def test_incremental_updates_match_a_rebuild_as_the_clock_moves(
    first: list[Edge], later: list[Edge], days: int
) -> None:
    clock = Clock()
    g = graph(*first, clock=clock)
    clock.now = NOW + timedelta(days=days)
    g.add_edges(later)
    fresh = graph(*first, *later, clock=clock)
    fresh.rebuild()
    assert _state(g) == _state(fresh)


@settings(max_examples=100, deadline=None)
@given(_edges, st.sampled_from(_UNIVERSE), st.sampled_from(_UNIVERSE))
def test_a_merge_keeps_one_of_the_two_person_ids(edges: list[Edge], a: str, b: str) -> None:
    g = graph(*edges)
    before = (g.person_id(ID(a)), g.person_id(ID(b)))
    shared_before = g.shared_identifiers()
    if a == b or None in before:
        return
    g.add_edges([edge(a, b, 0)])
    if g.shared_identifiers() == shared_before and not (g.is_shared(ID(a)) or g.is_shared(ID(b))):
        assert g.person_id(ID(a)) == g.person_id(ID(b))
        assert g.person_id(ID(a)) in before
