"""Issue 13, open-side rules: fetches at delivery time from datacenter networks, and where those networks come from.

Security scanners that are no mail gateway of a listed vendor (self-hosted sandboxes, smaller vendors) run in the
clouds and fetch the pixel and the links seconds after delivery with ordinary browser strings. Before this rule
such a pixel was a person's open, relayed to GA4 and credited by attribution.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench_classifier import classify_corpus, load_corpus
from gateway.config.settings import load_settings
from gateway.edge.machine import Classifier, ClassifierConfig, Hit, Kind, classifier_config
from gateway.edge.networks import (
    DATACENTER_NETWORKS,
    PROXY_NETWORKS,
    SCANNER_NETWORKS,
    SHIPPED_NETWORKS,
    NetworkSet,
    load_networks,
)
from gateway.edge.networks_refresh import DEFAULT_FILE, largest, main, parse_list
from gateway.errors import MalformedList

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "networks"
SENT = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
BROWSER = {"accept": "text/html", "accept-language": "en-GB"}
AWS_IP = "3.17.42.10"  # 3.16.0.0/12, AWS
AZURE_IP = "4.150.8.20"  # 4.144.0.0/12, Azure
HOME_IP = "81.2.69.142"
CLOUDS = NetworkSet(DATACENTER_NETWORKS)
DATACENTER_VENDORS = {"aws", "azure", "google_cloud", "oracle_cloud", "digitalocean", "linode_akamai"}


def _default() -> Classifier:
    return Classifier(classifier_config(load_settings({})))


def _hit(
    kind: str,
    ip: str,
    seconds: float | None,
    *,
    recipient: str = "r",
    link: str = "l",
    event_id: str = "",
    sent: datetime | None = SENT,
) -> Hit:
    return Hit(
        kind="click" if kind == "click" else "open",
        method="GET",
        headers={**BROWSER, "user-agent": CHROME},
        ip=ip,
        campaign_id="c",
        recipient=recipient,
        link_id=link if kind == "click" else None,
        send_time=sent,
        now=SENT + timedelta(seconds=seconds or 7200),
        event_id=event_id,
    )


# --- the rule ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "ip", "seconds"),
    [
        ("open", AWS_IP, 8),  # a sandbox rendering the mail on EC2
        ("open", AZURE_IP, 3),
        ("click", AZURE_IP, 15),  # past the 10 s "too soon" rule: only the network gives it away
        ("open", "34.16.5.9", 20),  # Google Cloud
        ("open", "129.80.3.3", 12),  # Oracle Cloud
        ("click", "46.101.77.1", 40),  # DigitalOcean
        ("open", "45.33.12.7", 5),  # Linode
        ("open", "::ffff:3.17.42.10", 8),  # AWS as an IPv4-mapped address
        ("open", "2600:1900:4000::1", 8),  # Google Cloud over IPv6
    ],
)
def test_a_hit_from_a_datacenter_at_delivery_is_a_scanner(kind: str, ip: str, seconds: float) -> None:
    verdict = _default().classify(_hit(kind, ip, seconds))
    assert verdict.kind is Kind.SCANNER
    assert "datacenter_at_delivery_s<60" in verdict.reasons
    assert "datacenter" not in verdict.reasons


@pytest.mark.parametrize(("seconds", "machine"), [(59.9, True), (60, False), (61, False)])
def test_the_delivery_window_ends_at_sixty_seconds(seconds: float, machine: bool) -> None:
    verdict = _default().classify(_hit("open", AWS_IP, seconds))
    if machine:
        assert (verdict.kind, verdict.reasons) == (Kind.SCANNER, ("datacenter_at_delivery_s<60",))
    else:
        assert (verdict.kind, verdict.reasons) == (Kind.HUMAN, ("datacenter",))


def test_the_window_is_a_knob_and_its_reason_says_so() -> None:
    classifier = Classifier(ClassifierConfig(datacenter_delivery_seconds=20))
    assert classifier.classify(_hit("open", AWS_IP, 19)).reasons == ("datacenter_at_delivery_s<20",)
    assert classifier.classify(_hit("open", AWS_IP, 30)).kind is Kind.HUMAN
    off = Classifier(ClassifierConfig(datacenter_delivery_seconds=0))
    assert off.classify(_hit("open", AWS_IP, 1)).reasons == ("datacenter",)
    with pytest.raises(ValueError, match="datacenter_delivery_seconds"):
        ClassifierConfig(datacenter_delivery_seconds=-1)


@pytest.mark.parametrize(
    ("kind", "seconds", "expected"),
    [
        ("open", 3 * 3600, Kind.HUMAN),  # a person on a cloud VPN reading at lunch
        ("click", 3 * 3600, Kind.HUMAN),
        ("open", None, Kind.HUMAN),  # no send time in the token: nothing says "at delivery"
    ],
)
def test_a_later_hit_from_a_datacenter_keeps_its_verdict_and_says_datacenter(
    kind: str, seconds: float | None, expected: Kind
) -> None:
    classifier = _default()
    classifier.classify(_hit("open", HOME_IP, 3 * 3600 - 60))  # opened first: no click_before_open
    verdict = classifier.classify(_hit(kind, AZURE_IP, seconds, sent=SENT if seconds else None))
    assert (verdict.kind, verdict.reasons) == (expected, ("datacenter",))


def test_a_datacenter_address_adds_no_weight_towards_unknown() -> None:
    # click_before_open is one weak signal; a datacenter address is none: the click stays a person's.
    verdict = _default().classify(_hit("click", AWS_IP, 2 * 3600))
    assert verdict.kind is Kind.HUMAN
    assert verdict.reasons == ("datacenter", "click_before_open")


def test_a_send_time_in_the_future_counts_as_at_delivery() -> None:
    # As for clicks "too soon": clock skew between the sender and the gateway must not hide a scanner.
    early = _hit("open", AWS_IP, 5, sent=SENT + timedelta(minutes=2))
    assert _default().classify(early).kind is Kind.SCANNER


def test_a_datacenter_click_that_completes_a_burst_revises_the_earlier_ones() -> None:
    classifier = _default()
    first = classifier.classify(_hit("click", HOME_IP, 40.0, link="a", event_id="e1"))
    second = classifier.classify(_hit("click", "198.51.100.7", 40.6, link="b", event_id="e2"))
    assert (first.kind, second.kind) == (Kind.HUMAN, Kind.HUMAN)
    third = classifier.classify(_hit("click", AWS_IP, 41.2, link="c", event_id="e3"))
    assert third.kind is Kind.SCANNER
    assert third.reasons == ("datacenter_at_delivery_s<60", "click_before_open", "link_burst")
    assert [(r.event_id, r.verdict, r.reasons[-1]) for r in third.revisions] == [
        ("e1", Kind.SCANNER, "revised:link_burst"),
        ("e2", Kind.SCANNER, "revised:link_burst"),
    ]


def test_scanner_networks_inside_a_cloud_stay_scanners_with_both_reasons() -> None:
    # Trend Micro Email Security runs on AWS: its published ranges lie inside AWS's.
    trend = "18.208.22.130"  # 18.208.22.128/25, Trend Micro's; inside AWS's 18.192.0.0/11
    late = _default().classify(_hit("click", trend, 3 * 3600))
    assert late.kind is Kind.SCANNER
    assert {"scanner_network", "datacenter"} <= set(late.reasons)


def test_the_settings_lists_still_work_beside_the_datacenters() -> None:
    settings = load_settings({"GA4GW_SCANNER_NETWORKS": "203.0.113.0/24", "GA4GW_APPLE_NETWORKS": "192.0.2.0/24"})
    classifier = Classifier(classifier_config(settings))
    assert classifier.classify(_hit("click", "203.0.113.9", 600)).kind is Kind.SCANNER
    apple = Hit("open", "GET", {"user-agent": "Mozilla/5.0"}, "192.0.2.8", "c", "r2", None, SENT, SENT + timedelta(1))
    assert classifier.classify(apple).kind is Kind.APPLE_MPP
    assert classifier.classify(_hit("open", AWS_IP, 8, recipient="r3")).kind is Kind.SCANNER


def test_the_corpus_rows_of_datacenters_get_their_verdicts_and_reasons() -> None:
    scored = [s for s in classify_corpus(load_corpus()) if ipaddress.ip_address(s.row["ip"]) in CLOUDS]
    machines = [s for s in scored if s.row["label"] == "machine"]
    people = [s for s in scored if s.row["label"] == "human" and s.row["seconds_since_send"] >= 60]
    assert len(machines) >= 8
    assert len(people) >= 4
    for s in machines:
        assert s.verdict.kind is Kind.SCANNER, s.row["note"]
        assert "datacenter_at_delivery_s<60" in s.verdict.reasons
    for s in people:
        assert s.verdict.kind is Kind.HUMAN, s.row["note"]
        assert "datacenter" in s.verdict.reasons


# --- the shipped datacenter networks ----------------------------------------------------------------------------


def test_every_cloud_ships_sourced_dated_and_checked() -> None:
    clouds = {v.vendor: v for v in SHIPPED_NETWORKS if v.role == "datacenter"}
    assert set(clouds) == DATACENTER_VENDORS
    for vendor in clouds.values():
        assert vendor.source.startswith("https://")
        assert vendor.taken
        assert "largest" in vendor.checked
        assert 20 <= len(vendor.cidrs) <= 80
    assert list(DATACENTER_NETWORKS) == [c for v in SHIPPED_NETWORKS if v.role == "datacenter" for c in v.cidrs]
    assert 300 <= len(DATACENTER_NETWORKS) <= 500  # a selection, kept cheap to look up


def test_no_datacenter_range_covers_an_image_proxy_or_apple() -> None:
    """A proxy or Apple fetch must never fall under the datacenter rule: those are people's opens."""
    clouds = [ipaddress.ip_network(c) for c in DATACENTER_NETWORKS]
    for cidr in (*PROXY_NETWORKS, "17.0.0.0/8"):
        other = ipaddress.ip_network(cidr)
        assert not any(c.version == other.version and c.overlaps(other) for c in clouds), cidr
    trend = ipaddress.ip_address("18.208.22.130")
    assert trend in NetworkSet(SCANNER_NETWORKS)
    assert trend in NetworkSet(DATACENTER_NETWORKS)


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DEFAULT_FILE.read_text())
    return document


@pytest.mark.parametrize("field", ["source", "checked", "taken"])
def test_the_loader_refuses_a_datacenter_entry_without_its_provenance(field: str) -> None:
    document = _document()
    aws = next(v for v in document["vendors"] if v["vendor"] == "aws")
    del aws[field]
    with pytest.raises(ValueError, match="'aws'") as refused:
        load_networks(document)
    assert field in str(refused.value)


def test_the_loader_names_the_roles_it_knows() -> None:
    document = _document()
    document["vendors"][-1]["role"] = "cloud"
    with pytest.raises(ValueError, match="scanner, proxy, datacenter"):
        load_networks(document)


# --- the refresh tool on the clouds' published formats ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "fmt", "expected"),
    [
        ("aws_ip_ranges_excerpt.json", "aws",
         ["3.4.12.4/32", "3.5.140.0/22", "15.190.244.0/22", "15.230.15.29/32", "2600:1f69:7400::/40",
          "2600:9000:5206::/48"]),
        ("azure_service_tags_excerpt.json", "azure",
         ["4.175.0.0/16", "4.180.0.0/16", "4.210.128.0/17", "2603:1020:200::/46", "4.156.0.0/15", "4.227.128.0/17",
          "4.236.128.0/17", "2602:fd5e:1::/63"]),
        ("oracle_public_ip_ranges_excerpt.json", "oracle",
         ["129.80.0.0/16", "129.144.0.0/16", "129.146.0.0/21", "129.146.8.0/22"]),
        ("google_cloud_excerpt.json", "goog",
         ["34.1.208.0/20", "34.35.0.0/16", "34.152.86.0/23", "34.177.50.0/23", "2600:1900:8000::/44"]),
        ("digitalocean_geo_excerpt.csv", "csv",
         ["5.101.96.0/21", "5.101.104.0/22", "24.144.64.0/22", "24.144.68.0/22", "24.144.74.0/23"]),
        ("linode_geofeed_excerpt.txt", "csv",
         ["2600:3c00::/32", "2600:3c0f:2::/48", "72.14.177.0/24", "72.14.176.0/24", "72.14.178.0/24"]),
    ],
)  # fmt: skip
def test_each_clouds_published_format_is_read(fixture: str, fmt: str, expected: list[str]) -> None:
    assert parse_list((FIXTURES / fixture).read_text(), fmt, fixture) == expected


@pytest.mark.parametrize(
    ("fmt", "text", "line", "reason"),
    [
        ("aws", '{"prefixes": [\n {"ip_prefix": "3.5.140.0/22"},\n {"region": "eu"}\n]}', 3, "needs 'ip_prefix'"),
        ("aws", '{"prefixes": [], "ipv6_prefixes": [\n {"ipv6_prefix": "2600:1f69::/400"}\n]}', 2, "is not a network"),
        ("aws", '{"syncToken": "1"}', 1, "'prefixes' list"),
        ("azure", '{"values": [\n {"name": "AzureCloud",\n  "properties": {}}\n]}', 2, "addressPrefixes"),
        ("azure", "[]", 1, "'values' list"),
        ("oracle", '{"regions": [\n {"region": "us-ashburn-1",\n  "cidrs": [{"tags": []}]}\n]}', 3, "needs 'cidr'"),
        ("oracle", '{"regions": [\n {"region": "us-phoenix-1"}\n]}', 2, "a 'cidrs' list"),
        ("csv", "# geofeed\n5.101.96.0/21,NL\nip_prefix,alpha2code\n", 3, "'ip_prefix' is not a network"),
    ],
)  # fmt: skip
def test_malformed_cloud_lists_are_refused_naming_file_and_line(
    fmt: str, text: str, line: int, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / f"published.{fmt}"
    source.write_text(text)
    target = tmp_path / "networks.json"
    target.write_text(DEFAULT_FILE.read_text())
    vendor = {"aws": "aws", "azure": "azure", "oracle": "oracle_cloud", "csv": "digitalocean"}[fmt]
    assert main([f"{vendor}={source}", "--file", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"{source}:{line}: " in err
    assert reason in err
    assert target.read_text() == DEFAULT_FILE.read_text()
    with pytest.raises(MalformedList):
        parse_list(text, fmt, str(source))


def test_largest_merges_neighbours_and_keeps_the_biggest_per_family() -> None:
    cidrs = ["10.0.0.0/25", "10.0.0.128/25", "10.1.0.0/16", "192.0.2.7/32", "2001:db8::/48", "2001:db8:1::/32"]
    assert largest(cidrs, 1) == ["10.1.0.0/16", "2001:db8::/32"]
    assert largest(cidrs, 2) == ["10.0.0.0/24", "10.1.0.0/16", "2001:db8::/32"]  # the /48 lies inside the /32


def test_an_operator_ships_a_full_list_or_the_largest_of_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "networks.json"
    target.write_text(DEFAULT_FILE.read_text())
    azure = FIXTURES / "azure_service_tags_excerpt.json"
    assert main([f"azure={azure}", "--file", str(target), "--date", "2026-12-01"]) == 0
    capsys.readouterr()
    as_of, vendors = load_networks(json.loads(target.read_text()))
    full = next(v for v in vendors if v.vendor == "azure")
    assert (as_of, full.taken, len(full.cidrs)) == ("2026-12-01", "2026-12-01", 8)
    assert main([f"azure={azure}", "--file", str(target), "--largest", "2"]) == 0
    assert capsys.readouterr().out.startswith("azure: +0 -4\n")
    _, vendors = load_networks(json.loads(target.read_text()))
    cut = next(v for v in vendors if v.vendor == "azure")
    assert cut.cidrs == ("4.156.0.0/15", "4.175.0.0/16", "2602:fd5e:1::/63", "2603:1020:200::/46")
    assert main([f"azure={azure}", "--file", str(target), "--largest", "0"]) == 2
    assert "--largest must be at least 1" in capsys.readouterr().err
