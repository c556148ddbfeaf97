"""The classifier on the labelled corpus of real scanner, proxy and person hits (tests/data/classifier).

The floors are the figures ``python -m benchmarks.bench_classifier`` printed when they were set: a change
that loses a scanner or calls a person a machine fails here. Raise them when the classifier improves.
"""

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.bench_classifier import MACHINE, classify_corpus, load_corpus, machine_figures, per_verdict
from gateway.config.settings import load_settings
from gateway.edge.machine import Classifier, Hit, Kind, classifier_config
from gateway.edge.networks import PROXY_NETWORKS, SCANNER_NETWORKS, SHIPPED_NETWORKS, NetworkSet

SENT = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
BROWSER = {"accept": "text/html", "accept-language": "en-GB"}

# (precision, recall) per verdict, and machine (precision, recall) per kind of hit, as last measured.
# Replayed in time order, scored by final verdicts (after the revisions later bursts make).
VERDICT_FLOORS = {
    Kind.APPLE_MPP: (1.0, 1.0),
    Kind.HUMAN: (0.96, 1.0),
    Kind.IMAGE_PROXY: (1.0, 1.0),
    Kind.PREFETCH: (1.0, 1.0),
    Kind.SCANNER: (1.0, 0.97),
    Kind.UNKNOWN: (1.0, 1.0),
}
MACHINE_FLOORS = {"click": (1.0, 0.96), "open": (1.0, 1.0)}


def _default() -> Classifier:
    return Classifier(classifier_config(load_settings({})))


def _hit(kind: str, ua: str, ip: str, seconds: float, headers: dict[str, str] | None = None) -> Hit:
    return Hit(
        kind="click" if kind == "click" else "open",
        method="GET",
        headers={**(headers if headers is not None else BROWSER), "user-agent": ua},
        ip=ip,
        campaign_id="c",
        recipient="r",
        link_id="l" if kind == "click" else None,
        send_time=SENT,
        now=SENT + timedelta(seconds=seconds),
    )


def test_corpus_rows_are_labelled_and_sourced() -> None:
    rows = load_corpus()
    assert len(rows) >= 40
    for row in rows:
        assert row["source"].strip(), row["note"]
        assert row["kind"] in {"open", "click"}
        assert row["evidence"] in {"observed", "constructed"}
        # The label and the expected verdict agree: a machine row expects a machine verdict.
        assert (Kind(row["expect"]) in MACHINE) == (row["label"] == "machine") or row["expect"] == "unknown"
        ipaddress.ip_address(row["ip"])


@pytest.mark.parametrize("kind", sorted(VERDICT_FLOORS))
def test_precision_and_recall_per_verdict_stay_above_the_floor(kind: Kind) -> None:
    figures = per_verdict(classify_corpus(load_corpus()))
    precision, recall, _ = figures[kind]
    floor_precision, floor_recall = VERDICT_FLOORS[kind]
    assert precision >= floor_precision - 1e-9
    assert recall >= floor_recall - 1e-9


@pytest.mark.parametrize("kind", ["click", "open"])
def test_machine_precision_and_recall_stay_above_the_floor(kind: str) -> None:
    precision, recall, machines = machine_figures(classify_corpus(load_corpus()), kind)
    assert machines >= 8
    assert precision >= MACHINE_FLOORS[kind][0]
    assert recall >= MACHINE_FLOORS[kind][1] - 1e-9


def test_timing_scenarios_name_their_recipients_and_links() -> None:
    rows = [row for row in load_corpus() if row.get("scenario")]
    assert len({row["scenario"] for row in rows}) >= 8
    for row in rows:
        assert row["recipient"], row["note"]
        assert row["kind"] == "open" or row["link"], row["note"]


def test_bursts_found_later_revise_the_scenarios_first_hits() -> None:
    # Issue 13's example: one address per link, 4 minutes after the send; the first two were "human" when they came.
    scored = [s for s in classify_corpus(load_corpus()) if s.row.get("scenario") == "one-address-per-link"]
    assert [s.first.kind for s in scored] == [Kind.HUMAN, Kind.HUMAN, Kind.SCANNER]
    assert [s.verdict.kind for s in scored] == [Kind.SCANNER] * 3
    assert scored[0].verdict.reasons[-1] == "revised:link_burst"
    unrevised = classify_corpus(load_corpus(), revise=False)
    assert machine_figures(unrevised, "click")[1] < MACHINE_FLOORS["click"][1]  # the revisions are what reach it


def test_every_machine_verdict_says_why() -> None:
    for scored in classify_corpus(load_corpus()):
        if scored.verdict.kind is not Kind.HUMAN:
            assert scored.verdict.reasons, scored.row["note"]


@pytest.mark.parametrize(
    ("ua", "marker"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) CiscoSecureEmail", "ciscosecureemail"),
        (CHROME + " TMES", "tmes"),
        (
            "Mozilla/5.0 (compatible; Yahoo Link Preview; https://help.yahoo.com/kb/mail/yahoo-link-preview-SLN23615.html)",
            "yahoo link preview",
        ),
        (CHROME + " Gmail-content-sampling", "gmail-content-sampling"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) (CMLINKCHECK)",
            "cmlinkcheck",
        ),
    ],
)
def test_vendor_tokens_mark_scanners(ua: str, marker: str) -> None:
    # From a home address, a minute after sending: only the token gives the scanner away.
    verdict = _default().classify(_hit("click", ua, "81.2.69.142", 600))
    assert verdict.kind is Kind.SCANNER
    assert f"ua_marker:{marker}" in verdict.reasons


@pytest.mark.parametrize(
    ("seconds", "reasons"),
    [
        (1200, ("apple_plain_ua", "apple_network", "sent_ago_s<3600")),
        (14400, ("apple_plain_ua", "apple_network")),
    ],
)
def test_apples_plain_mozilla_from_apples_network_is_the_privacy_proxy(
    seconds: float, reasons: tuple[str, ...]
) -> None:
    # Issue 13: this was "human" because Apple's network was only checked for the stripped WebKit string.
    verdict = _default().classify(_hit("open", "Mozilla/5.0", "17.58.101.9", seconds, headers={}))
    assert verdict.kind is Kind.APPLE_MPP
    assert verdict.reasons == reasons


def test_plain_mozilla_far_from_apple_and_late_is_not_called_apple() -> None:
    verdict = _default().classify(_hit("open", "Mozilla/5.0", "81.2.69.142", 7200, headers={}))
    assert verdict.kind is Kind.UNKNOWN
    assert verdict.reasons == ("apple_plain_ua",)


@pytest.mark.parametrize(
    ("kind", "ip", "seconds"),
    [
        ("click", "40.107.22.61", 20),  # Safe Links detonation from Exchange Online Protection
        ("click", "148.163.140.12", 40),  # Proofpoint
        ("open", "40.92.18.5", 4),  # Defender fetching the pixel at delivery
        ("open", "185.58.85.10", 6),  # Mimecast at delivery
        ("click", "2a01:111:f403:c000::1", 30),  # EOP over IPv6
        ("click", "::ffff:205.139.110.40", 25),  # Mimecast as an IPv4-mapped address
    ],
)
def test_shipped_scanner_networks_are_used_by_default(kind: str, ip: str, seconds: float) -> None:
    verdict = _default().classify(_hit(kind, CHROME, ip, seconds))
    assert verdict.kind is Kind.SCANNER
    assert "scanner_network" in verdict.reasons


def test_scanner_networks_setting_adds_to_the_shipped_list() -> None:
    settings = load_settings({"GA4GW_SCANNER_NETWORKS": "203.0.113.0/24"})
    classifier = Classifier(classifier_config(settings))
    for ip in ("203.0.113.9", "40.107.22.61"):
        assert classifier.classify(_hit("click", CHROME, ip, 600)).kind is Kind.SCANNER


def test_image_proxy_networks_are_not_scanners() -> None:
    # Gmail's proxy fetching as the person opens comes from Google's range: a person, not a scanner.
    gmail = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    assert _default().classify(_hit("open", gmail, "66.249.84.21", 3600, headers={})).kind is Kind.IMAGE_PROXY
    assert not set(PROXY_NETWORKS) & set(SCANNER_NETWORKS)


def test_every_shipped_vendor_names_its_source() -> None:
    vendors = {v.vendor for v in SHIPPED_NETWORKS}
    assert {"microsoft_eop_defender", "proofpoint", "mimecast", "barracuda", "cisco_secure_email"} <= vendors
    assert {"trend_micro_email_security", "google_image_proxy", "yahoo_mail_proxy"} <= vendors
    for vendor in SHIPPED_NETWORKS:
        assert vendor.source.startswith("https://")
        assert vendor.cidrs
        for cidr in vendor.cidrs:
            ipaddress.ip_network(cidr)  # strict: a typo in a host part fails here


_cidrs = st.one_of(
    st.builds(lambda a, p: f"{ipaddress.IPv4Address(a)}/{p}", st.integers(0, 2**32 - 1), st.integers(8, 32)),
    st.builds(lambda a, p: f"{ipaddress.IPv6Address(a)}/{p}", st.integers(0, 2**128 - 1), st.integers(16, 128)),
)
_addresses = st.one_of(
    st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1)),
    st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1)),
)


@given(st.lists(_cidrs, max_size=8), st.lists(_addresses, min_size=1, max_size=8))
def test_network_set_agrees_with_ipaddress(
    cidrs: list[str], addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address]
) -> None:
    networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    found = NetworkSet(cidrs)
    for network in networks:
        addresses.append(network.network_address)
        addresses.append(network.broadcast_address)
    for address in addresses:
        expected = any(n.version == address.version and address in n for n in networks)
        assert (address in found) is expected
