"""The shipped scanner and proxy networks: a sourced, dated data file, its loader, and the refresh tool (issue 13)."""

from __future__ import annotations

import functools
import http.server
import ipaddress
import json
import subprocess
import sys
import threading
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from gateway.edge import networks
from gateway.edge.networks import AS_OF, PROXY_NETWORKS, SCANNER_NETWORKS, SHIPPED_NETWORKS, NetworkSet, load_networks
from gateway.edge.networks_refresh import DEFAULT_FILE, main, parse_list
from gateway.errors import MalformedList

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "networks"


def _shipped() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DEFAULT_FILE.read_text())
    return document


def _addr(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


# --- the data file and its loader ------------------------------------------------------------------------------


def test_every_vendor_the_issue_names_ships_with_source_date_and_what_it_was_checked_against() -> None:
    vendors = {v.vendor: v for v in SHIPPED_NETWORKS}
    assert set(vendors) >= {
        "microsoft_eop_defender", "proofpoint", "mimecast", "barracuda", "cisco_secure_email",
        "trend_micro_email_security", "google_image_proxy", "yahoo_mail_proxy",
    }  # fmt: skip
    for vendor in SHIPPED_NETWORKS:
        assert vendor.source.startswith("https://")
        assert vendor.checked
        assert vendor.cidrs
        assert vendor.taken <= AS_OF
    assert {v.vendor for v in SHIPPED_NETWORKS if v.role == "proxy"} == {"google_image_proxy", "yahoo_mail_proxy"}


def test_the_module_exposes_what_the_file_holds() -> None:
    document = _shipped()
    assert document["as_of"] == AS_OF
    scanner = [c for v in document["vendors"] if v["role"] == "scanner" for c in v["cidrs"]]
    proxy = [c for v in document["vendors"] if v["role"] == "proxy" for c in v["cidrs"]]
    assert (list(SCANNER_NETWORKS), list(PROXY_NETWORKS)) == (scanner, proxy)


@pytest.mark.parametrize(
    ("address", "scanner"),
    [
        ("40.107.22.5", True),  # Exchange Online Protection
        ("2a01:111:f403:2c0b::1", True),
        ("205.139.110.30", True),  # Mimecast US
        ("41.74.193.1", True),  # Mimecast ZA, missing before the data were checked against Mimecast's records
        ("13.238.202.10", True),  # Trend Micro AU, missing before
        ("194.106.220.10", False),  # in the old table, in no Mimecast record
        ("66.249.84.1", False),  # Gmail's image proxy is a proxy, not a scanner
        ("192.0.2.1", False),
    ],
)
def test_the_shipped_scanner_set_holds_the_checked_ranges(address: str, scanner: bool) -> None:
    assert (_addr(address) in NetworkSet(SCANNER_NETWORKS)) is scanner


def test_the_proxy_set_holds_gmails_image_proxy() -> None:
    assert _addr("66.249.84.1") in NetworkSet(PROXY_NETWORKS)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda v: v.pop("source"), "'source' is missing"),
        (lambda v: v.update(checked=" "), "'checked' is missing"),
        (lambda v: v.pop("taken"), "taken must be a date"),
        (lambda v: v.update(taken="last week"), "taken must be a date"),
        (lambda v: v.update(role="friend"), "'role' must be one of"),
        (lambda v: v.update(format="xml"), "'format' must be one of"),
        (lambda v: v.update(cidrs=["10.0.0.0/33"]), "'10.0.0.0/33' is not a network"),
        (lambda v: v.update(cidrs=[]), "'cidrs' must be a non-empty list"),
    ],
)
def test_a_broken_file_fails_to_load_naming_vendor_and_field(damage: Any, message: str) -> None:
    document = _shipped()
    damage(document["vendors"][1])
    with pytest.raises(ValueError, match=message) as caught:
        load_networks(document)
    assert "proofpoint" in str(caught.value)


def test_an_installed_package_carries_the_data_file() -> None:
    """pyproject's package data names the file, so a wheel has it; the loader reads it as a package resource."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["gateway.edge"]
    assert any(fnmatch("data/networks.json", pattern) for pattern in patterns)
    assert networks.__file__ is not None
    assert Path(networks.__file__).with_name("data") / "networks.json" == DEFAULT_FILE


# --- the refresh tool on the vendors' published formats ----------------------------------------------------------


def test_microsofts_endpoints_json_gives_the_sets_open_on_port_25() -> None:
    text = (FIXTURES / "microsoft_endpoints_excerpt.json").read_text()
    assert parse_list(text, "microsoft", "ms.json") == [
        "40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17", "2a01:111:f400::/48", "2a01:111:f403::/48",
    ]  # fmt: skip


def test_spf_records_give_their_ip4_and_ip6_terms_and_leave_includes() -> None:
    found = parse_list((FIXTURES / "mimecast_netblocks.txt").read_text(), "spf", "mimecast.txt")
    assert len(found) == 45
    assert found[:2] == ["195.130.217.0/24", "91.220.42.0/24"]
    trend = parse_list((FIXTURES / "trend_micro_tmes.txt").read_text(), "spf", "tmes.txt")
    assert "107.22.223.18/32" in trend  # a bare address becomes a /32
    google = parse_list((FIXTURES / "google_netblocks.txt").read_text(), "spf", "google.txt")
    assert "2001:4860:4000::/36" in google


def test_goog_json_and_plain_lists() -> None:
    goog = parse_list((FIXTURES / "google_goog_excerpt.json").read_text(), "goog", "goog.json")
    assert goog == ["66.102.0.0/20", "66.249.80.0/20", "74.125.0.0/16", "2001:4860:4000::/36"]
    plain = parse_list((FIXTURES / "barracuda_cidrs.txt").read_text(), "cidrs", "b.txt")
    assert plain == ["209.222.80.0/21", "64.235.144.0/20"]


@pytest.mark.parametrize(
    ("vendor", "fixture"),
    [
        ("microsoft_eop_defender", "microsoft_endpoints_excerpt.json"),
        ("mimecast", "mimecast_netblocks.txt"),
        ("google_image_proxy:goog", "google_goog_excerpt.json"),
        ("barracuda", "barracuda_cidrs.txt"),
    ],
)
def test_the_shipped_ranges_are_what_the_published_lists_give(
    vendor: str, fixture: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refreshing from the lists the data were checked against changes nothing."""
    target = tmp_path / "networks.json"
    target.write_text(DEFAULT_FILE.read_text())
    assert main([f"{vendor}={FIXTURES / fixture}", "--file", str(target), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{vendor.split(':')[0]}: unchanged"]


def test_a_refresh_prints_what_changed_and_writes_the_file(tmp_path: Path) -> None:
    document = _shipped()
    mimecast = next(v for v in document["vendors"] if v["vendor"] == "mimecast")
    mimecast["cidrs"] = [*mimecast["cidrs"][1:], "198.51.100.0/24"]  # one published range lost, one stale added
    target = tmp_path / "networks.json"
    target.write_text(json.dumps(document))
    run = subprocess.run(
        [sys.executable, "-m", "gateway.edge.networks_refresh", f"mimecast={FIXTURES / 'mimecast_netblocks.txt'}",
         "--file", str(target), "--date", "2026-12-01"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[:3] == ["mimecast: +1 -1", "  + 195.130.217.0/24", "  - 198.51.100.0/24"]
    written = json.loads(target.read_text())
    as_of, vendors = load_networks(written)
    refreshed = next(v for v in vendors if v.vendor == "mimecast")
    assert (as_of, refreshed.taken) == ("2026-12-01", "2026-12-01")
    assert "mimecast_netblocks.txt" in refreshed.checked
    assert [v for v in vendors if v.vendor != "mimecast"] == [v for v in SHIPPED_NETWORKS if v.vendor != "mimecast"]


def test_several_sources_for_one_vendor_are_joined(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = tmp_path / "more.txt"
    extra.write_text("203.0.113.0/24\n")
    target = tmp_path / "networks.json"
    target.write_text(DEFAULT_FILE.read_text())
    args = [f"barracuda={FIXTURES / 'barracuda_cidrs.txt'}", f"barracuda:cidrs={extra}", "--file", str(target)]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("barracuda: +1 -0\n  + 203.0.113.0/24\n")
    assert "203.0.113.0/24" in next(
        v["cidrs"] for v in json.loads(target.read_text())["vendors"] if v["vendor"] == "barracuda"
    )


@pytest.mark.parametrize(
    ("fmt", "text", "line", "reason"),
    [
        ("cidrs", "209.222.80.0/21\n# ok\n209.222.80.0/33\n", 3, "'209.222.80.0/33' is not a network"),
        ("cidrs", "209.222.80.0/21\nbarracuda.com\n", 2, "is not a network"),
        ("spf", '"v=spf1 ip4:1.2.3.0/24 ~all"\n"v=spf1 ipv4:5.6.7.8 ~all"\n', 2, "'ipv4:5.6.7.8' is not"),
        ("spf", "ip4:1.2.3.0/24\n", 1, "starts with 'v=spf1'"),
        ("spf", '"v=spf1 ip4:300.2.3.0/24 -all"', 1, "is not a network"),
        ("microsoft", '[\n {"id": 10,\n  "serviceArea": "Exchange"\n  "ips": []}\n]', 4, "not JSON"),
        ("microsoft", '{"id": 10}', 1, "a list of endpoint sets"),
        ("microsoft", '[\n {"id": 10, "serviceArea": "Exchange", "tcpPorts": "25",\n  "ips": ["40.92.0.0/15x"]}\n]', 3,
         "'40.92.0.0/15x' is not a network"),
        ("goog", '{"prefixes": [\n {"ipv4Prefix": "8.8.4.0/24"},\n {"ipv5Prefix": "x"}\n]}', 3, "needs 'ipv4Prefix'"),
        ("goog", "[]", 1, "'prefixes' list"),
        ("cidrs", "# nothing yet\n", 1, "no networks found"),
    ],
)  # fmt: skip
def test_malformed_input_is_refused_naming_file_and_line(
    fmt: str, text: str, line: int, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / f"published.{fmt}"
    source.write_text(text)
    target = tmp_path / "networks.json"
    target.write_text(DEFAULT_FILE.read_text())
    vendor = {
        "cidrs": "barracuda",
        "spf": "mimecast",
        "microsoft": "microsoft_eop_defender",
        "goog": "google_image_proxy",
    }
    assert main([f"{vendor[fmt]}:{fmt}={source}", "--file", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"{source}:{line}: " in err
    assert reason in err
    assert target.read_text() == DEFAULT_FILE.read_text()  # nothing written
    with pytest.raises(MalformedList) as caught:
        parse_list(text, fmt, str(source))
    assert caught.value.line == line


def test_unknown_vendor_or_format_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "networks.json"
    target.write_text(DEFAULT_FILE.read_text())
    assert main([f"sophos={FIXTURES / 'barracuda_cidrs.txt'}", "--file", str(target)]) == 2
    assert "unknown vendor 'sophos'" in capsys.readouterr().err
    assert main([f"barracuda:xml={FIXTURES / 'barracuda_cidrs.txt'}", "--file", str(target)]) == 2
    assert "unknown format 'xml'" in capsys.readouterr().err
    assert main([f"barracuda={tmp_path / 'missing.txt'}", "--file", str(target)]) == 2
    assert "missing.txt:0: cannot read" in capsys.readouterr().err


def test_a_list_is_fetched_when_given_as_a_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The endpoints service and goog.json are URLs: a real local HTTP server stands in for the vendor."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(FIXTURES))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        target = tmp_path / "networks.json"
        target.write_text(DEFAULT_FILE.read_text())
        try:
            ok = main([f"microsoft_eop_defender={base}/microsoft_endpoints_excerpt.json", "--file", str(target)])
            missing = main([f"microsoft_eop_defender={base}/nothing-here.json", "--file", str(target)])
        finally:
            server.shutdown()
    assert ok == 0
    assert missing == 2
    out, err = capsys.readouterr()
    assert out.startswith("microsoft_eop_defender: unchanged\n")
    assert f"{base}/nothing-here.json:0: cannot fetch" in err
