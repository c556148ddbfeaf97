"""``ga4gw ga4 ...``: validate a payload, the relay's status, replaying dead letters, MP secrets, the stand-in."""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import time
from typing import Any

from gateway.config.settings import Settings

__all__ = ["register"]

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")  # a sender's name, as ``mp_ingest`` issues them


def _ledger_path(data_dir: Any) -> Any:
    return data_dir / "ga4_ledger.sqlite3"


def _validate(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.ga4 import validate_text, validation_response

    messages = validate_text(sys.stdin.buffer.read(), now=time.time())
    print(json.dumps(validation_response(messages), indent=2))
    return 1 if messages else 0


def _outbox_waiting(settings: Settings, position: int) -> int | None:
    """Events in the outbox after the relay's position (None when there is no outbox yet)."""
    path = settings.data_dir / "outbox.sqlite3"
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT count() FROM outbox WHERE id > ?", (position,)).fetchone()[0])
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _running_status(settings: Settings) -> tuple[str, dict[str, Any]] | None:
    """The running gateway's URL and its relay's status (``GET /v1/ga4/status``), or None when none runs."""
    from . import remote

    gateway = remote.find(settings)
    if gateway is None:
        return None
    return gateway.url, gateway.json(gateway.call("GET", "/v1/ga4/status", ["ga4:read"]))


def _status(settings: Settings, args: argparse.Namespace) -> int:
    """The running gateway's relay when one owns the data directory; else the ledger, and this command's settings."""
    from gateway.ga4.admin import as_json, status_lines
    from gateway.ga4.ledger import Ledger, LedgerStatus

    from . import remote

    running = _running_status(settings)
    if running is not None:
        url, data = running
        status = LedgerStatus(**{name: data[name] for name in LedgerStatus.__dataclass_fields__})
        dry_run, origin, waiting = bool(data["dry_run"]), str(data["origin"]), data["outbox_waiting"]
        gateway = {"running": True, "pid": data["gateway"]["pid"], "url": url}
        heading = f"gateway: running (pid {gateway['pid']}, {url}); mode as that process runs it"
    else:
        ledger = Ledger(_ledger_path(remote.require_data_dir(settings)))
        try:
            status = ledger.status(max_age=72 * 3600)
        finally:
            ledger.close()
        dry_run, origin = settings.ga4_dry_run, settings.ga4_origin
        waiting = _outbox_waiting(settings, status.position)
        gateway = {"running": False}
        heading = (f"gateway: none runs on {settings.data_dir}; mode from this command's own settings "
                   "(what a gateway started with them would do)")  # fmt: skip
    if args.json:
        data = as_json(status, dry_run=dry_run, outbox_waiting=waiting)
        data.update(origin=origin, gateway=gateway)
        if running is not None:
            data["measurement_id"] = running[1]["measurement_id"]
        print(json.dumps(data, indent=2))
    else:
        print("\n".join([heading, *status_lines(status, dry_run=dry_run, origin=origin, outbox_waiting=waiting)]))
    return 0


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.ga4.admin import REPLAYABLE, replay
    from gateway.ga4.ledger import Ledger

    from . import remote

    ledger = Ledger(_ledger_path(remote.require_data_dir(settings)))
    try:
        count = replay(ledger, now=time.time(), reasons=tuple(args.reason or REPLAYABLE))
    finally:
        ledger.close()
    running = _running_status(settings)
    dry_run = bool(running[1]["dry_run"]) if running is not None else settings.ga4_dry_run
    where = "the running gateway sends them within a second" if not dry_run else "dry run: kept, not sent"
    print(f"queued {count} dead letters again ({where})" if count else "no dead letter inside the 72-hour window")
    return 0


def _secret(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.api.mp_ingest import issue_secret
    from gateway.config.keys import load_keyrings

    try:
        print(issue_secret(load_keyrings(settings).api, args.name))
    except ValueError as exc:
        print(f"ga4gw: --name: {exc}", file=sys.stderr)
        return 2
    return 0


def _secret_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.api.mp_ingest import secret_key_id, verify_secret
    from gateway.config.keys import load_keyrings
    from gateway.stores.revocation import Revocations

    from . import remote

    value = args.secret.strip()
    revocations = Revocations.in_dir(remote.require_data_dir(settings))
    try:
        if value.count(".") == 2:  # one issued secret: that name under that key
            name = verify_secret(load_keyrings(settings).api, value)
            if name is None:
                print("ga4gw: the api_secret is not one this gateway issued", file=sys.stderr)
                return 2
            revocations.revoke_secret(name, secret_key_id(value))
            print(f"revoked the api_secret of {name} under key {secret_key_id(value)}")
        elif _NAME.fullmatch(value):
            revocations.revoke_secret(value)
            print(f"revoked every api_secret of {value}, under every key (issue new ones under another name)")
        else:
            print("ga4gw: give the api_secret itself or the sender's name", file=sys.stderr)
            return 2
    finally:
        revocations.close()
    print("running gateways on this data directory refuse it within a second")
    return 0


def _standin(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.ga4.standin import StandIn

    server = StandIn(args.host, args.port).start()
    print(f"MP stand-in listening on {server.url} (POST /mp/collect, /debug/mp/collect); what it received: "
          f"GET {server.url}/_standin/requests", flush=True)  # fmt: skip
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ga4`` and its sub-commands to the top-level parser's subparsers."""
    ga4 = sub.add_parser("ga4", help="GA4 Measurement Protocol").add_subparsers(dest="ga4_command", required=True)
    check = ga4.add_parser("validate", help="validate an MP body (stdin) like Google's validation server")
    check.set_defaults(run=_validate)
    status = ga4.add_parser("status", help="the relay: queue depth, lag, requests by state, dead letters")
    status.add_argument("--json", action="store_true", help="print it as JSON")
    status.set_defaults(run=_status)
    replay = ga4.add_parser("replay", help="send again the dead letters still inside GA4's 72-hour window")
    replay.add_argument("--reason", action="append", choices=["rejected", "invalid"],
                        help="only letters dead for this reason (repeatable; default both)")  # fmt: skip
    replay.set_defaults(run=_replay)
    secret = ga4.add_parser("secret", help="api_secrets for POST /mp/collect").add_subparsers(
        dest="secret_command", required=True
    )
    issue = secret.add_parser("issue", help="print an api_secret for a sender of POST /mp/collect")
    issue.add_argument("--name", required=True, help="who will use it, e.g. shop-backend")
    issue.set_defaults(run=_secret)
    revoke = secret.add_parser("revoke", help="revoke an api_secret (or all of a sender's): refused within a second")
    revoke.add_argument("secret", metavar="SECRET_OR_NAME", help="the api_secret, or the sender's name for all of it")
    revoke.set_defaults(run=_secret_revoke)
    standin = ga4.add_parser("standin", help="run a local Measurement Protocol stand-in (tests, demos)")
    standin.add_argument("--host", default="127.0.0.1")
    standin.add_argument("--port", type=int, default=9999)
    standin.set_defaults(run=_standin)
