"""``ga4gw import events FILE [--format ndjson|csv]``: load past orders and sessions for attribution.

Each line is checked like ``POST /v1/events`` (``gateway.api.imports`` says how and what differs); the whole file
is checked before anything is written, so a bad line (reported by its number and field) stores nothing. With no
gateway running the command writes into the warehouse itself; while a gateway owns the data directory it streams
the file to ``POST /v1/events/import`` with a short-lived ``events:import`` token minted from the keyring. A
progress bar goes to standard error; the counts to standard output.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from gateway.config.settings import Settings

from . import remote
from .attribution import ProgressBar

__all__ = ["register"]

_UPLOAD_CHUNK = 1024 * 1024
_MEDIA = {"ndjson": "application/x-ndjson", "csv": "text/csv"}


class _Throttled:
    """Feeds a ``ProgressBar`` at most once per percent, so a log gets a hundred lines, not a million."""

    def __init__(self, bar: ProgressBar | None) -> None:
        self._bar = bar
        self._last: tuple[str, int] = ("", -1)

    def __call__(self, step: str, done: int, total: int) -> None:
        if self._bar is None:
            return
        percent = 100 * done // max(total, 1)
        if (step, percent) != self._last:
            self._last = (step, percent)
            self._bar(step, percent, 100)


def _report(result: dict[str, Any], seconds: float) -> int:
    from gateway.errors import CommandError

    if result["bad_lines"]:
        for where, problem in result["errors"].items():
            line, _, fieldpath = where.partition(".")
            print(f"{line}: {fieldpath or '(the line)'}: {problem}", file=sys.stderr)
        shown = len(result["errors"])
        more = f" (the first {shown} problems shown)" if result["bad_lines"] > shown else ""
        raise CommandError(f"{result['bad_lines']} bad line(s) of {result['lines']}; nothing was stored{more}")
    rate = result["stored"] / seconds if seconds > 0 else 0.0
    print(f"imported {result['stored']} events from {result['lines']} lines ({result['edges']} identity edges) "
          f"in {seconds:.1f}s, {rate:,.0f} events/s")  # fmt: skip
    return 0


def _direct(settings: Settings, path: Path, fmt: str, bar: _Throttled) -> dict[str, Any]:
    from gateway.api.imports import import_events
    from gateway.config.keys import load_keyrings
    from warehouse import Warehouse, migrate

    keys = load_keyrings(settings).pseudonym.keys
    opened: list[Warehouse] = []

    def warehouse() -> Warehouse:
        wh = Warehouse.connect(settings.dsn, cluster=settings.clickhouse_cluster)
        opened.append(wh)
        migrate(wh, settings.retention_months)
        return wh

    try:
        return import_events(path, fmt, warehouse, keys, spool_dir=settings.data_dir, progress=bar).as_json()
    finally:
        for wh in opened:
            wh.close()


def _through(gateway: remote.Remote, path: Path, fmt: str, bar: _Throttled) -> dict[str, Any]:
    from gateway.errors import CommandError

    size = max(path.stat().st_size, 1)

    def upload() -> Iterator[bytes]:
        sent = 0
        with path.open("rb") as stream:
            while chunk := stream.read(_UPLOAD_CHUNK):
                sent += len(chunk)
                bar("sending", sent, size)
                yield chunk
        bar("checking and writing (in the gateway)", 0, 1)

    print(f"ga4gw: importing through {gateway.name}", file=sys.stderr)
    answer = gateway.call("POST", "/v1/events/import", ["events:import"], content=upload(),
                          headers={"content-type": _MEDIA[fmt]}, timeout=httpx.Timeout(30, read=None))  # fmt: skip
    if answer.status_code not in (200, 422) or "bad_lines" not in answer.text:
        raise CommandError(f"the gateway refused the import ({answer.status_code}): {answer.text.strip()}")
    bar("done", 1, 1)
    result: dict[str, Any] = answer.json()
    return result


def _events(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.errors import CommandError

    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"{path}: no such file", 2)
    from gateway.api.imports import format_of

    fmt = args.format or format_of(path.name)
    bar = None if args.quiet else ProgressBar(sys.stderr)
    throttled = _Throttled(bar)
    started = time.monotonic()
    try:
        gateway = remote.find(settings)
        if gateway is not None:
            result = _through(gateway, path, fmt, throttled)
        else:
            result = _direct(settings, path, fmt, throttled)
    finally:
        if bar is not None:
            bar.close()
    if bar is not None and result["bad_lines"] and sys.stderr.isatty():
        print(file=sys.stderr)  # the bar's line ends here: the problems each get their own
    return _report(result, time.monotonic() - started)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import`` to the ``ga4gw`` subcommands."""
    group = sub.add_parser("import", help="import past events (orders, sessions) for attribution")
    commands = group.add_subparsers(dest="import_command", required=True)
    events = commands.add_parser(
        "events", help="check every line like POST /v1/events, then store them all (never relayed to GA4)"
    )
    events.add_argument("file", help="NDJSON (one event a line) or CSV with a header (dotted nested columns)")
    events.add_argument("--format", choices=("ndjson", "csv"), help="default: from the name (.csv is CSV)")
    events.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    events.set_defaults(run=_events)
