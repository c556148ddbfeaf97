"""``ga4gw identity ...``: look into the identity graph from the command line.

``explain`` loads every edge from the warehouse, resolves them with the configured guards and prints
the person behind one identifier. It opens the warehouse directly, like ``ga4gw sql`` does when no
gateway runs; the embedded engine belongs to a running gateway, so then it asks you to stop it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gateway.config.domain import graph_config
from gateway.config.settings import Settings
from gateway.stores import runfile

if TYPE_CHECKING:  # the identity package pulls in the warehouse driver; commands import it when they run
    pass

__all__ = ["register"]


def _explain(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.errors import CommandError
    from identity import Identifier, IdentityError, explain, load_graph
    from warehouse import MIGRATIONS, Warehouse, status

    try:
        identifier = Identifier.parse(args.identifier)
    except IdentityError as exc:
        raise CommandError(f"identifier: {exc}", 2) from None
    owner = runfile.read(settings.data_dir)
    if owner is not None and settings.dsn.startswith("chdb://"):
        raise CommandError(
            f"the gateway (pid {owner.pid}) owns the embedded warehouse in {settings.data_dir}; "
            "stop it to run this command, or point GA4GW_WAREHOUSE_DSN at a ClickHouse server"
        )
    wh = Warehouse.connect(settings.dsn, cluster=settings.clickhouse_cluster)
    try:
        edges_version = next(m.version for m in MIGRATIONS if m.name == "identity_edges table")
        if edges_version in status(wh, settings.retention_months).pending:
            raise CommandError("the warehouse has no identity_edges table yet; run `ga4gw migrate`")
        graph = load_graph(wh, graph_config(settings))
    finally:
        wh.close()
    try:
        explanation = explain(graph, identifier)
    except IdentityError as exc:
        raise CommandError(f"{exc} (among {graph.edge_count:,} edges)") from None
    sys.stdout.write("\n".join(explanation.lines()) + "\n")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``identity explain`` to the ``ga4gw`` parser's subcommands."""
    identity = sub.add_parser("identity", help="the identity graph").add_subparsers(
        dest="identity_command", required=True
    )
    explain = identity.add_parser(
        "explain", help="show the person behind an identifier, its identifiers and the edges that joined them"
    )
    explain.add_argument(
        "identifier", help="kind:value, e.g. ga_client:123.456 or email:em_k1_... (kinds: recipient, email, "
        "crm, user, ga_client, device)"
    )  # fmt: skip
    explain.set_defaults(run=_explain)
