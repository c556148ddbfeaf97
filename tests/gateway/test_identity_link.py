"""Which events join which identifiers, and the link keeping the graph in step with the warehouse."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from gateway.state.identity_link import IdentityLink, edges_of, identifiers_of, landing_pseudonym
from identity import GraphConfig, Identifier, Kind, Pseudonymizer
from warehouse import EventRow

KEYS = Pseudonymizer([("k1", "an-identity-link-test-key-of-32-chars!")])
NOW = datetime.now(UTC)
EMAIL = KEYS.email("ann@example.com")


def hit(**fields: object) -> EventRow:
    base: dict = {"event_id": "e1", "event_time": NOW, "received_at": NOW, "event_name": "email_click",
                  "source": "click", "recipient": "sub-1"}  # fmt: skip
    base.update(fields)
    return EventRow(**base)


def keys(edges: list) -> set[tuple[str, str, str]]:
    return {(e.a.key, e.b.key, e.source) for e in edges}


def test_a_click_joins_its_recipient_to_the_cookie_and_to_the_email_it_was_signed_for() -> None:
    rc = f"recipient:{KEYS.pseudonym('rc', 'sub-1')}"
    assert keys(edges_of(hit(ga_client_id="5.1700000000", params={"email_pseudonym": EMAIL}), KEYS)) == {
        (rc, "ga_client:5.1700000000", "click_ga_cookie"),
        (rc, f"email:{EMAIL}", "email_link"),
    }
    # a link signed for an email alone carries the email's pseudonym as its recipient
    assert keys(edges_of(hit(recipient=EMAIL, ga_client_id="5.1700000000"), KEYS)) == {
        (f"email:{EMAIL}", "ga_client:5.1700000000", "click_ga_cookie")
    }
    assert edges_of(hit(recipient=""), KEYS) == []  # anonymous
    assert edges_of(hit(), KEYS) == []  # nothing seen with it


def test_an_identification_joins_the_identifier_the_click_names() -> None:
    """The landing token carries the click's own recipient: for a link signed for an email alone that is the
    email's pseudonym (an ``rc_`` pseudonym of it would be an identifier no event names, and the join would fail)."""
    for recipient, named in ((EMAIL, f"email:{EMAIL}"), ("sub-1", f"recipient:{KEYS.pseudonym('rc', 'sub-1')}")):
        click = hit(recipient=recipient)
        [clicked] = identifiers_of(click, KEYS)
        identify = hit(source="identify", event_name="identify", recipient="", ga_client_id="5.1700000000",
                       params={"recipient_pseudonym": landing_pseudonym(recipient, KEYS)})  # fmt: skip
        assert clicked.key == named
        assert keys(edges_of(identify, KEYS)) == {(named, "ga_client:5.1700000000", "landing_token")}


def test_the_shops_events_join_what_they_name_together_and_never_a_raw_value() -> None:
    row = hit(source="server", recipient="", event_name="purchase", user_id="us_k1_x", ga_client_id="7.1700000000",
              params={"email_pseudonym": EMAIL})  # fmt: skip
    assert keys(edges_of(row, KEYS)) == {
        ("user:us_k1_x", f"email:{EMAIL}", "server_event"),
        ("user:us_k1_x", "ga_client:7.1700000000", "server_event"),
    }
    assert [i.kind for i in identifiers_of(row, KEYS)] == [Kind.USER, Kind.EMAIL, Kind.GA_CLIENT]
    odd = replace(row, ga_client_id="not a client id")  # not an identifier: left out, not an error
    assert keys(edges_of(odd, KEYS)) == {("user:us_k1_x", f"email:{EMAIL}", "server_event")}
    assert edges_of(hit(source="tracking-test"), KEYS) == []


def test_the_link_resolves_what_it_was_given() -> None:
    link = IdentityLink(GraphConfig(), KEYS)
    server = hit(source="server", recipient="", user_id="us_k1_x", ga_client_id="7.1700000000")
    link.add(link.edges([server]))
    resolved = link.resolve(hit(source="server", recipient="", user_id="us_k1_x"))
    assert resolved is not None
    assert resolved.client_id == "7.1700000000"
    assert resolved.user_id == "us_k1_x"
    assert link.resolve(hit(recipient="")) is None
    assert Identifier(Kind.USER, "us_k1_x") in identifiers_of(server, KEYS)
