"""Rebuild the shipped scanner, proxy and datacenter networks from the vendors' published lists; say what changed.

    python -m gateway.edge.networks_refresh [--file PATH] [--date YYYY-MM-DD] [--dry-run] [--largest N]
        VENDOR[:FORMAT]=SOURCE ...

Each ``VENDOR=SOURCE`` names a vendor of ``gateway/edge/data/networks.json`` and a local file or an http(s) URL
holding its list; give one vendor several sources (an SPF record and its includes) by repeating it. The list is
read in the vendor's ``format`` from the file, or the one after the colon:

* ``microsoft``: the JSON of ``endpoints.office.com/endpoints/worldwide``; the Exchange entries open on TCP 25
  (``*.mail.protection.outlook.com``, where Exchange Online Protection and Defender fetch from);
* ``goog``: Google's ``goog.json`` shape (``{"prefixes": [{"ipv4Prefix": ...}, {"ipv6Prefix": ...}]}``);
* ``spf``: TXT records as ``dig +short txt`` prints them, one ``v=spf1 ...`` record a line; ``ip4:``/``ip6:`` terms
  are taken, ``include:`` is not followed (pass the included records as further sources);
* ``cidrs``: one network or address a line, ``#`` starts a comment;
* ``aws``: AWS's ``ip-ranges.json`` (``prefixes[].ip_prefix`` and ``ipv6_prefixes[].ipv6_prefix``);
* ``azure``: Azure's Service Tags JSON (``ServiceTags_Public_<date>.json``: ``values[].properties.addressPrefixes``
  of every tag; save one tag's entry alone, ``AzureCloud`` say, to take only its ranges);
* ``oracle``: Oracle Cloud's ``public_ip_ranges.json`` (``regions[].cidrs[].cidr``);
* ``csv``: the first column of a CSV, such as DigitalOcean's ``geo/google.csv`` or an RFC 8805 geofeed
  (Linode's ``geoip.linode.com``); ``#`` lines are comments.

Each named vendor's ranges are replaced by what its sources list, its ``taken`` date and the file's ``as_of`` set
to ``--date`` (today, UTC, by default); vendors not named stay as they are. ``--largest N`` keeps, per vendor,
the N largest IPv4 and the N largest IPv6 networks once adjacent ones are merged (how the shipped cloud lists,
thousands of ranges each, were cut down); without it every range listed is kept. It prints the ranges added and
removed per vendor. Input that is not in the format is refused before anything is written, naming the source and
line (exit 2).
"""

import argparse
import datetime
import ipaddress
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.edge.networks import FORMATS, load_networks
from gateway.errors import MalformedList

__all__ = ["DEFAULT_FILE", "MalformedList", "largest", "main", "parse_list", "refresh"]

DEFAULT_FILE = Path(__file__).with_name("data") / "networks.json"


@dataclass(frozen=True)
class Change:
    vendor: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


def parse_list(text: str, fmt: str, source: str) -> list[str]:
    """The networks ``text`` lists in format ``fmt``, normalised (``1.2.3.4`` -> ``1.2.3.4/32``), in order."""
    parsers: dict[str, Callable[[str, str], list[str]]] = {
        "microsoft": _microsoft,
        "goog": _goog,
        "spf": _spf,
        "cidrs": _cidrs,
        "aws": _aws,
        "azure": _azure,
        "oracle": _oracle,
        "csv": _csv,
    }
    found = parsers[fmt](text, source)
    if not found:
        raise MalformedList(source, 1, f"no networks found in this {fmt} list")
    return list(dict.fromkeys(found))


def _network(value: object, source: str, line: int) -> str:
    if not isinstance(value, str):
        raise MalformedList(source, line, f"{value!r} is not a network")
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise MalformedList(source, line, f"{value!r} is not a network") from None


def _json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedList(source, exc.lineno, f"not JSON: {exc.msg}") from None


def _line_of(text: str, value: object) -> int:
    """The line of a JSON value, for messages: the first line holding it as a string."""
    at = text.find(json.dumps(value))
    return 1 if at < 0 else text.count("\n", 0, at) + 1


def _microsoft(text: str, source: str) -> list[str]:
    endpoints = _json(text, source)
    if not isinstance(endpoints, list) or not all(isinstance(entry, dict) for entry in endpoints):
        raise MalformedList(source, 1, "expected the endpoints service's JSON: a list of endpoint sets")
    found = []
    for entry in endpoints:
        ports = str(entry.get("tcpPorts", "")).replace(" ", "").split(",")
        if entry.get("serviceArea") != "Exchange" or "25" not in ports:
            continue
        ips = entry.get("ips", [])
        if not isinstance(ips, list):
            raise MalformedList(source, _line_of(text, entry.get("id")), "'ips' must be a list")
        found += [_network(ip, source, _line_of(text, ip)) for ip in ips]
    return found


def _goog(text: str, source: str) -> list[str]:
    document = _json(text, source)
    prefixes = document.get("prefixes") if isinstance(document, dict) else None
    if not isinstance(prefixes, list):
        raise MalformedList(source, 1, "expected goog.json's shape: an object with a 'prefixes' list")
    found = []
    for prefix in prefixes:
        value = prefix.get("ipv4Prefix", prefix.get("ipv6Prefix")) if isinstance(prefix, dict) else None
        if value is None:
            raise MalformedList(source, _line_of(text, prefix), "a prefix needs 'ipv4Prefix' or 'ipv6Prefix'")
        found.append(_network(value, source, _line_of(text, value)))
    return found


_SPF_IGNORED = re.compile(
    r"[-+~?]?(all|include:\S+|redirect=\S+|exp=\S+|a|a[:/]\S+|mx|mx[:/]\S+|ptr|ptr:\S+|exists:\S+)$"
)


def _spf(text: str, source: str) -> list[str]:
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        # dig prints a long TXT record as several quoted strings: "v=spf1 ip4:a" " ip4:b"
        line = "".join(re.findall(r'"([^"]*)"', raw)) if '"' in raw else raw
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        terms = line.split()
        if terms[0] != "v=spf1":
            raise MalformedList(source, number, "an SPF record starts with 'v=spf1'")
        for term in terms[1:]:
            kind, _, value = term.lstrip("+").partition(":")
            if kind in ("ip4", "ip6") and value:
                found.append(_network(value, source, number))
            elif not _SPF_IGNORED.match(term):
                raise MalformedList(source, number, f"{term!r} is not an SPF term")
    return found


def _cidrs(text: str, source: str) -> list[str]:
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            found.append(_network(line, source, number))
    return found


def _aws(text: str, source: str) -> list[str]:
    document = _json(text, source)
    if not isinstance(document, dict) or not isinstance(document.get("prefixes"), list):
        raise MalformedList(source, 1, "expected ip-ranges.json's shape: an object with a 'prefixes' list")
    found = []
    for key, field in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
        entries = document.get(key, [])
        if not isinstance(entries, list):
            raise MalformedList(source, _line_of(text, key), f"'{key}' must be a list")
        for entry in entries:
            value = entry.get(field) if isinstance(entry, dict) else None
            if value is None:
                raise MalformedList(source, _line_of(text, entry), f"an entry of '{key}' needs '{field}'")
            found.append(_network(value, source, _line_of(text, value)))
    return found


def _azure(text: str, source: str) -> list[str]:
    document = _json(text, source)
    values = document.get("values") if isinstance(document, dict) else None
    if not isinstance(values, list):
        raise MalformedList(source, 1, "expected the Service Tags JSON: an object with a 'values' list")
    found = []
    for tag in values:
        properties = tag.get("properties") if isinstance(tag, dict) else None
        prefixes = properties.get("addressPrefixes") if isinstance(properties, dict) else None
        if not isinstance(prefixes, list):
            name = tag.get("name") if isinstance(tag, dict) else tag
            raise MalformedList(source, _line_of(text, name), "a tag needs 'properties.addressPrefixes' (a list)")
        found += [_network(prefix, source, _line_of(text, prefix)) for prefix in prefixes]
    return found


def _oracle(text: str, source: str) -> list[str]:
    document = _json(text, source)
    regions = document.get("regions") if isinstance(document, dict) else None
    if not isinstance(regions, list):
        raise MalformedList(source, 1, "expected public_ip_ranges.json's shape: an object with a 'regions' list")
    found = []
    for region in regions:
        cidrs = region.get("cidrs") if isinstance(region, dict) else None
        if not isinstance(cidrs, list):
            name = region.get("region") if isinstance(region, dict) else region
            raise MalformedList(source, _line_of(text, name), "a region needs a 'cidrs' list")
        for entry in cidrs:
            value = entry.get("cidr") if isinstance(entry, dict) else None
            if value is None:
                raise MalformedList(source, _line_of(text, entry), "an entry of 'cidrs' needs 'cidr'")
            found.append(_network(value, source, _line_of(text, value)))
    return found


def _csv(text: str, source: str) -> list[str]:
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            found.append(_network(line.split(",", 1)[0], source, number))
    return found


def largest(cidrs: Sequence[str], keep: int) -> list[str]:
    """The ``keep`` largest IPv4 and ``keep`` largest IPv6 networks of ``cidrs`` once adjacent ones are merged.

    Ties go to the lower address; the result is in address order, IPv4 first. A published cloud list holds
    thousands of ranges, most of them small: the largest few dozen cover most of the provider's addresses.
    """
    networks = [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    families: tuple[list[ipaddress.IPv4Network | ipaddress.IPv6Network], ...] = (
        [*ipaddress.collapse_addresses(v4)],
        [*ipaddress.collapse_addresses(v6)],
    )
    kept: list[str] = []
    for merged in families:
        merged.sort(key=lambda n: (n.prefixlen, int(n.network_address)))
        kept += [str(n) for n in sorted(merged[:keep], key=lambda n: int(n.network_address))]
    return kept


def _read(source: str) -> str:
    if source.startswith(("http://", "https://")):
        import httpx  # only when asked to fetch: the edge itself never goes to the network

        try:
            response = httpx.get(source, timeout=30, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise MalformedList(source, 0, f"cannot fetch: {exc}") from None
        return response.text
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MalformedList(source, 0, f"cannot read: {exc}") from None


def refresh(
    document: dict[str, Any],
    sources: Sequence[tuple[str, str | None, str]],
    date: str,
    read: Callable[[str], str],
    keep: int | None = None,
) -> list[Change]:
    """Replace the named vendors' ranges in ``document`` (in place) and return what changed, vendor by vendor.

    ``sources`` holds ``(vendor, format or None, file or URL)``. Every list is read and checked before the
    document is touched, so a malformed one raises ``MalformedList`` and changes nothing. With ``keep``, only
    each vendor's ``keep`` largest networks per address family are kept (:func:`largest`).
    """
    vendors = {entry["vendor"]: entry for entry in document["vendors"]}
    fresh: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    for vendor, fmt, source in sources:
        if vendor not in vendors:
            raise ValueError(f"unknown vendor {vendor!r}: the file lists {', '.join(vendors)}")
        fmt = fmt or vendors[vendor]["format"]
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} for {vendor}: use one of {', '.join(FORMATS)}")
        fresh.setdefault(vendor, []).extend(parse_list(read(source), fmt, source))
        names.setdefault(vendor, []).append(source)
    changes = []
    for vendor, cidrs in fresh.items():
        entry = vendors[vendor]
        new = list(dict.fromkeys(cidrs)) if keep is None else largest(cidrs, keep)
        old = [str(ipaddress.ip_network(cidr, strict=False)) for cidr in entry["cidrs"]]
        changes.append(Change(vendor, tuple(c for c in new if c not in old), tuple(c for c in old if c not in new)))
        entry["cidrs"] = new
        entry["taken"] = date
        entry["checked"] = f"taken from {', '.join(names[vendor])} by networks_refresh on {date}"
    document["as_of"] = date
    load_networks(document)  # the result must load, or nothing is written
    return changes


def _spec(value: str) -> tuple[str, str | None, str]:
    target, sep, source = value.partition("=")
    vendor, _, fmt = target.partition(":")
    if not sep or not vendor or not source:
        raise argparse.ArgumentTypeError(f"{value!r}: expected VENDOR[:FORMAT]=FILE_OR_URL")
    return vendor, fmt or None, source


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.edge.networks_refresh",
        description="Rebuild the shipped scanner and proxy networks from the vendors' published lists.",
    )
    parser.add_argument("sources", nargs="+", type=_spec, metavar="VENDOR[:FORMAT]=FILE_OR_URL")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the networks file (default: the shipped one)")
    parser.add_argument("--date", default=datetime.datetime.now(datetime.UTC).date().isoformat(), help="day taken")
    parser.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    parser.add_argument(
        "--largest", type=int, metavar="N", help="keep only the N largest IPv4 and N largest IPv6 networks per vendor"
    )
    args = parser.parse_args(argv)
    try:
        datetime.date.fromisoformat(args.date)
        document = json.loads(args.file.read_text(encoding="utf-8"))
        if args.largest is not None and args.largest < 1:
            raise ValueError(f"--largest must be at least 1, got {args.largest}")
        changes = refresh(document, args.sources, args.date, _read, args.largest)
    except (ValueError, OSError) as exc:  # MalformedList is a ValueError
        print(f"networks_refresh: {exc}", file=sys.stderr)
        return 2
    for change in changes:
        summary = f"+{len(change.added)} -{len(change.removed)}" if change.added or change.removed else "unchanged"
        print(f"{change.vendor}: {summary}")
        print(
            "".join(f"  + {cidr}\n" for cidr in change.added) + "".join(f"  - {cidr}\n" for cidr in change.removed),
            end="",
        )
    if not args.dry_run:
        args.file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.file} (as of {args.date})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
