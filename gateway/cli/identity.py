"""``ga4gw identity ...``: look into the identity graph from the command line.

``explain`` prints the person behind one identifier. It takes pseudonyms (``email:em_k1_...``) and raw values
(``email:jane@example.com``, ``recipient:sub-1``), which are turned into their pseudonyms under every key as
``ga4gw erase`` does; nothing raw is printed. While a gateway owns the data directory it is asked
(``GET /v1/identity/explain``): its graph is the one in use, and its embedded warehouse has one owner. With
none running the command loads every edge from the warehouse itself and resolves them with the configured guards.
"""

from __future__ import annotations

import argparse
import sys

from gateway.config.domain import graph_config
from gateway.config.settings import Settings
from gateway.errors import CommandError

from . import remote

__all__ = ["register"]


def _explain(settings: Settings, args: argparse.Namespace) -> int:
    from identity import Identifier, IdentityError

    try:
        identifier = Identifier.parse(args.identifier)
    except IdentityError as exc:
        raise CommandError(f"identifier: {exc}", 2) from None
    gateway = remote.find(settings)
    if gateway is not None:
        response = gateway.call(
            "GET", "/v1/identity/explain", ["identity:read"], params={"identifier": str(identifier)}
        )
        if response.status_code == 404:
            answer = response.json()
            raise CommandError(f"{answer['detail']} (among {answer['edges']:,} edges, in {gateway.name})")
        lines = gateway.json(response)["lines"]
    else:
        lines = _explain_directly(settings, identifier)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _explain_directly(settings: Settings, identifier: object) -> list[str]:
    from gateway.config.keys import load_keyrings
    from gateway.errors import SettingsError
    from gateway.jobs.erasure import is_raw, pseudonymised, unknown_detail
    from gateway.state.identity_link import explain_first
    from identity import Identifier, IdentityError, Pseudonymizer, load_graph
    from warehouse import MIGRATIONS, Warehouse, status

    assert isinstance(identifier, Identifier)
    remote.require_warehouse(settings)
    # A raw value is looked up by its pseudonyms, which need the keys (the data directory's, or configured), then
    # as given; a pseudonym needs no keys.
    candidates, no_keys = [identifier], None
    if is_raw(identifier):
        try:
            candidates = [*pseudonymised(identifier, Pseudonymizer(load_keyrings(settings).pseudonym.keys)), identifier]
        except SettingsError as exc:
            no_keys = exc
    wh = Warehouse.connect(settings.dsn, cluster=settings.clickhouse_cluster)
    try:
        edges_version = next(m.version for m in MIGRATIONS if m.name == "identity_edges table")
        if edges_version in status(wh, settings.retention_months).pending:
            raise CommandError("the warehouse has no identity_edges table yet; run `ga4gw migrate`")
        graph = load_graph(wh, graph_config(settings))
    finally:
        wh.close()
    try:
        return explain_first(graph, candidates).lines()
    except IdentityError:
        if no_keys is not None:
            raise CommandError(f"no edge names it as given, and its pseudonyms need the keys: {no_keys}", 2) from None
        detail = unknown_detail(identifier)
        raise CommandError(f"{detail} (among {graph.edge_count:,} edges; {remote.none_runs(settings)})") from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``identity explain`` to the ``ga4gw`` parser's subcommands."""
    identity = sub.add_parser("identity", help="the identity graph").add_subparsers(
        dest="identity_command", required=True
    )
    explain = identity.add_parser(
        "explain", help="show the person behind an identifier, its identifiers and the edges that joined them"
    )
    explain.add_argument(
        "identifier", help="kind:value, e.g. ga_client:123.456, email:em_k1_... or a raw email:jane@example.com, "
        "recipient:sub-1 (pseudonymised as `ga4gw erase` does; kinds: recipient, email, crm, user, ga_client, device)"
    )  # fmt: skip
    explain.set_defaults(run=_explain)
