"""``ga4gw erase --email X | --identifier kind:value [--reason ...] [--yes]``: erase a person from every store.

When a gateway owns the data directory (the run file), the command asks it (``POST /v1/erasure`` with a token
minted from the API keyring for ``cli:<os user>``), since it holds the embedded warehouse, the outbox's consumers
and the graph in memory. Otherwise it opens the warehouse, the outbox and the delivery ledger itself. It prints
the rows erased per table, never the email or identifiers. Exit status: 0 done, 1 failed or partial, 2 bad input.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from gateway.config.keys import load_keyrings
from gateway.config.settings import Settings
from gateway.errors import ErasureFailed, InvalidRequest

from . import remote

__all__ = ["register"]

_TIMEOUT = 600.0


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in a bare container
        return f"cli:uid-{os.getuid()}"


def _option(field: str) -> str:
    """The command-line option behind a field of the request (``identifiers[1]`` is the second --identifier)."""
    if field.startswith("identifiers[") or field == "identifier":
        index = int(field[12:-1]) + 1 if field.startswith("identifiers[") else 1
        return f"--identifier (#{index})"
    return "--" + field if field else "input"


def _refusal(fields: dict[str, str], detail: str) -> str:
    return "; ".join(f"{_option(k)}: {v}" for k, v in fields.items()) or detail


def _confirm(args: argparse.Namespace) -> None:
    from gateway.errors import CommandError

    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CommandError("erasing cannot be undone: add --yes to confirm (there is no terminal to ask)", 2)
    named = "the person behind the given " + ("email" if args.email else "identifiers")
    answer = input(f"Erase every record of {named} from the warehouse, the outbox and the GA4 ledger? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise CommandError("nothing erased", 2)


def _via_gateway(gateway: remote.Remote, body: dict[str, Any], who: str) -> dict[str, Any]:
    from gateway.errors import CommandError

    response = gateway.call("POST", "/v1/erasure", ["erasure:write"], json=body, timeout=_TIMEOUT, subject=who)
    if response.status_code == 422:
        answer = response.json()
        raise CommandError(_refusal(answer.get("fields", {}), answer.get("detail", "")), 2)
    return gateway.json(response)


def _directly(settings: Settings, body: dict[str, Any], who: str) -> dict[str, Any]:
    from gateway.config.domain import graph_config
    from gateway.jobs.erasure import Stores, erase, parse_request
    from gateway.state.identity_link import IdentityLink
    from gateway.stores.outbox import Outbox
    from identity import Pseudonymizer
    from warehouse import Warehouse, migrate

    request = parse_request(body)
    remote.require_data_dir(settings)
    remote.require_warehouse(settings)
    wh = Warehouse.connect(settings.dsn, cluster=settings.clickhouse_cluster)
    outbox = None
    try:
        migrate(wh, settings.retention_months)
        pseudonymizer = Pseudonymizer(load_keyrings(settings).pseudonym.keys)
        identity = IdentityLink(graph_config(settings), pseudonymizer)
        identity.load(wh)
        outbox = Outbox(settings.data_dir / "outbox.sqlite3", consumers=("warehouse", "ga4"),
                        synchronous=settings.outbox_sync)  # fmt: skip
        stores = Stores(wh, outbox, settings.data_dir / "ga4_ledger.sqlite3", identity, pseudonymizer)
        return erase(stores, request, who).as_json()
    finally:
        if outbox is not None:
            outbox.close()
        wh.close()


def _erase(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.errors import CommandError
    from gateway.jobs.erasure import parse_request

    body: dict[str, Any] = {}
    if args.email is not None:
        body["email"] = args.email
    if args.identifier:
        body["identifiers"] = args.identifier
    if args.reason is not None:
        body["reason"] = args.reason
    try:
        parse_request(body)  # refuse bad input before asking anything
    except InvalidRequest as exc:
        raise CommandError(_refusal(exc.fields, exc.detail), 2) from None
    _confirm(args)
    who = _operator()
    gateway = remote.find(settings)
    if gateway is not None:
        result = _via_gateway(gateway, body, who)
        way = f"through the gateway (pid {gateway.owner.pid})"
    else:
        try:
            result = _directly(settings, body, who)
        except InvalidRequest as exc:
            raise CommandError(_refusal(exc.fields, exc.detail), 2) from None
        except ErasureFailed as exc:
            raise CommandError(str(exc)) from None
        way = "directly (no gateway runs on this data directory)"
    print(f"erasure {result['erasure_id']} {result['status']} {way}: {result['identifiers']} identifiers")
    for table, count in sorted(result["rows"].items()):
        print(f"  {table:<32} {count:>8}")
    if result["left"]:
        left = ", ".join(f"{k} {v}" for k, v in result["left"].items())
        raise CommandError(f"partial: still there: {left}; run the same erasure again")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``erase`` to the ``ga4gw`` parser's subcommands."""
    erase = sub.add_parser("erase", help="erase a person (GDPR right to erasure) from the warehouse and local stores")
    erase.add_argument("--email", help="the person's email (only its pseudonyms are looked for; never printed)")
    erase.add_argument(
        "--identifier", action="append", metavar="KIND:VALUE",
        help="repeatable: recipient:<subscriber key>, user:<id>, crm:<id>, ga_client:<id>, email:<address>, "
        "device:<id>, or a pseudonym (em_..., rc_..., us_...)",
    )  # fmt: skip
    erase.add_argument("--reason", help="why, for the audit record (at most 500 characters; no personal data)")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(run=_erase)
