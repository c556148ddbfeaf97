"""Bursts across addresses (gateway/edge/bursts.py through the Classifier) and the revisions they make."""

from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from gateway.edge.machine import Classifier, ClassifierConfig, Hit, Kind, Verdict

SENT = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
BROWSER = {"accept": "text/html", "accept-language": "en-GB"}


def hit(
    seconds: float,
    *,
    kind: Literal["open", "click"] = "click",
    link: str = "a",
    ip: str = "81.2.69.142",
    recipient: str = "r-1",
    ua: str = CHROME,
    event_id: str | None = None,
) -> Hit:
    return Hit(
        kind=kind,
        method="GET",
        headers={**BROWSER, "user-agent": ua},
        ip=ip,
        campaign_id="spring",
        recipient=recipient,
        link_id=link if kind == "click" else None,
        send_time=SENT,
        now=SENT + timedelta(seconds=seconds),
        event_id=f"ev-{recipient}-{link}-{seconds}" if event_id is None else event_id,
    )


def test_a_scanner_hitting_three_links_from_three_addresses_makes_all_three_machine() -> None:
    # Issue 13: 4 minutes after the send, one address per link; the first two were "human" and stayed so.
    classifier = Classifier()
    first = classifier.classify(hit(240.0, link="a", ip="40.1.1.1", event_id="e1"))
    second = classifier.classify(hit(240.4, link="b", ip="52.2.2.2", event_id="e2"))
    third = classifier.classify(hit(240.9, link="c", ip="104.3.3.3", event_id="e3"))
    assert (first.kind, second.kind) == (Kind.HUMAN, Kind.HUMAN)  # nothing to tell yet
    assert third == Verdict(Kind.SCANNER, ("click_before_open", "link_burst"))
    revised = {r.event_id: r for r in third.revisions}
    assert set(revised) == {"e1", "e2"}
    for revision in revised.values():
        assert (revision.previous, revision.verdict) == (Kind.HUMAN, Kind.SCANNER)
        assert (revision.kind, revision.campaign_id) == ("click", "spring")
    # Its own reasons are kept (52.2.2.2 is AWS's; 4 minutes after the send is no longer "at delivery").
    assert revised["e1"].reasons == ("click_before_open", "revised:link_burst")
    assert revised["e2"].reasons == ("datacenter", "click_before_open", "revised:link_burst")
    assert revised["e1"].link_id == "a"


def test_a_revision_is_made_once() -> None:
    classifier = Classifier()
    verdicts = [classifier.classify(hit(60 + t, link=link, ip=f"198.51.{n}.9")) for n, (t, link) in
                enumerate([(0, "a"), (0.2, "b"), (0.4, "c"), (0.6, "d")])]  # fmt: skip
    assert [len(v.revisions) for v in verdicts] == [0, 0, 2, 0]
    assert verdicts[3].kind is Kind.SCANNER


def test_the_recipients_open_in_the_burst_is_revised_too() -> None:
    # The scanner fetched the pixel as it followed the links.
    classifier = Classifier()
    opened = classifier.classify(hit(30.0, kind="open", ip="198.51.100.1", event_id="open-1"))
    assert opened.kind is Kind.HUMAN
    for t, link in ((30.2, "a"), (30.5, "b")):
        classifier.classify(hit(t, link=link, ip="203.0.113.5"))
    third = classifier.classify(hit(30.8, link="c", ip="192.0.2.77"))
    assert "open-1" in {r.event_id for r in third.revisions}
    assert next(r for r in third.revisions if r.event_id == "open-1").kind == "open"


@pytest.mark.parametrize(
    "plan",
    [
        ((0, "a"), (60, "b")),  # a person clicking two links a minute apart
        ((0, "a"), (3, "b"), (6, "c")),  # reading along
        ((0, "a"), (0.3, "a"), (0.6, "a")),  # one link clicked three times
    ],
)
def test_people_clicking_at_their_own_pace_are_not_a_burst(plan: tuple[tuple[float, str], ...]) -> None:
    classifier = Classifier()
    classifier.classify(hit(1700, kind="open"))
    verdicts = [classifier.classify(hit(1800 + t, link=link, ip=f"203.0.113.{n}")) for n, (t, link) in enumerate(plan)]
    assert [v.kind for v in verdicts] == [Kind.HUMAN] * len(plan)
    assert not any(v.revisions for v in verdicts)


def test_many_recipients_clicked_from_one_network_within_seconds_is_a_scanner() -> None:
    # A gateway checking every recipient's copy as it arrives, from addresses of one /24.
    classifier = Classifier()
    verdicts = [
        classifier.classify(hit(12 + 0.5 * n, recipient=f"r-{n}", ip=f"168.90.91.{10 + n}", event_id=f"e{n}"))
        for n in range(4)
    ]
    assert [v.kind for v in verdicts] == [Kind.HUMAN] * 3 + [Kind.SCANNER]
    assert "network_burst" in verdicts[3].reasons
    assert {r.event_id for r in verdicts[3].revisions} == {"e0", "e1", "e2"}
    assert all(r.reasons[-1] == "revised:network_burst" for r in verdicts[3].revisions)


def test_an_ipv6_48_is_one_network() -> None:
    classifier = Classifier()
    verdicts = [classifier.classify(hit(20 + 0.1 * n, recipient=f"r-{n}", ip=f"2001:db8:5:{n:x}::1")) for n in range(4)]
    assert verdicts[3].kind is Kind.SCANNER
    other = classifier.classify(hit(20.5, recipient="r-9", ip="2001:db8:6::1"))  # another /48
    assert "network_burst" not in other.reasons


def test_colleagues_behind_one_office_address_clicking_minutes_apart_are_people() -> None:
    classifier = Classifier()
    verdicts = [classifier.classify(hit(600 + 45 * n, recipient=f"r-{n}", ip="81.2.69.142")) for n in range(8)]
    assert {v.kind for v in verdicts} == {Kind.HUMAN}


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "192.168.0.7", "::1", "fd00::1"])
def test_everybody_through_a_local_proxy_is_not_a_network_burst(ip: str) -> None:
    # A gateway behind the operator's proxy sees one address for everybody: only the email's own burst counts.
    classifier = Classifier()
    verdicts = [classifier.classify(hit(30 + 0.1 * n, recipient=f"r-{n}", ip=ip)) for n in range(10)]
    assert {v.kind for v in verdicts} == {Kind.HUMAN}
    assert classifier.networks_remembered == 0


def test_gmail_proxy_opens_of_many_readers_from_one_network_are_not_a_burst() -> None:
    # Google's proxy fetches for every Gmail reader from a few networks: many people, one network, by design.
    classifier = Classifier()
    verdicts = [
        classifier.classify(hit(1800 + 0.1 * n, kind="open", recipient=f"r-{n}", ip=f"66.249.84.{n}", ua=GMAIL_PROXY))
        for n in range(20)
    ]
    assert {v.kind for v in verdicts} == {Kind.IMAGE_PROXY}
    assert not any(v.revisions for v in verdicts)


def test_machine_verdicts_and_hits_without_an_event_id_are_not_revised() -> None:
    classifier = Classifier()
    classifier.classify(hit(100.0, link="a", ip="198.51.100.1", event_id="e1", ua="curl/8.5.0"))
    classifier.classify(hit(100.1, link="b", ip="198.51.101.1", event_id=""))  # nothing stored to revise
    third = classifier.classify(hit(100.2, link="c", ip="198.51.102.1", event_id="e3"))
    assert third.kind is Kind.SCANNER
    assert third.revisions == ()  # e1 was a scanner's already


def test_burst_rules_are_configurable() -> None:
    config = ClassifierConfig(burst_links=2, burst_window_seconds=5, network_recipients=2, network_window_seconds=1)
    classifier = Classifier(config)
    assert classifier.classify(hit(50, link="a", ip="192.0.2.1")).kind is Kind.HUMAN
    assert classifier.classify(hit(54, link="b", ip="198.51.100.2")).kind is Kind.SCANNER
    with pytest.raises(ValueError, match="network_recipients"):
        ClassifierConfig(network_recipients=1)


def test_network_memory_is_bounded_and_forgotten_on_erasure() -> None:
    classifier = Classifier(ClassifierConfig(memory_entries=30))
    for n in range(300):
        classifier.classify(hit(100 + n, recipient=f"r-{n}", ip=f"81.{n % 250}.{n // 250}.1"))
        assert classifier.networks_remembered <= 30
        assert classifier.remembered <= 30
    assert classifier.forget([f"r-{n}" for n in range(300)]) == 30
    assert classifier.networks_remembered == 0
    assert classifier.remembered == 0
