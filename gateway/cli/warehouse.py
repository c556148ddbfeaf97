"""``ga4gw migrate`` and ``ga4gw sql``: the warehouse from the command line, through a running gateway when one
owns the data directory (the embedded engine has one owner), directly otherwise."""

from __future__ import annotations

import argparse
import sys

from gateway.config.settings import Settings
from gateway.errors import CommandError

from . import remote
from .options import param

__all__ = ["register"]


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from warehouse import Warehouse, migrate

    if remote.find(settings) is not None and settings.dsn.startswith("chdb://"):
        print("the running gateway applied the migrations at its start; nothing to do", file=sys.stderr)
        return 0
    wh = Warehouse.connect(settings.dsn, cluster=settings.clickhouse_cluster)
    applied = migrate(wh, settings.retention_months)
    print(f"applied migrations {applied}" if applied else "the schema is up to date")
    return 0


# The variant with a header row of each text format; a FORMAT in the query itself wins over all of this.
_WITH_NAMES = {
    "TabSeparated": "TabSeparatedWithNames",
    "TSV": "TSVWithNames",
    "TabSeparatedRaw": "TabSeparatedRawWithNames",
    "TSVRaw": "TSVRawWithNames",
    "CSV": "CSVWithNames",
    "JSONCompactEachRow": "JSONCompactEachRowWithNames",
    "CustomSeparated": "CustomSeparatedWithNames",
}


def _output_format(args: argparse.Namespace) -> str:
    """The format to ask for: with a header row when asked, or by default when standard output is a terminal."""
    header = sys.stdout.isatty() if args.header is None else args.header
    # Other formats name the columns their own way (JSON, Pretty, Markdown, ...WithNames) or never (RowBinary).
    return _WITH_NAMES.get(args.format, args.format) if header else str(args.format)


def _sql(settings: Settings, args: argparse.Namespace) -> int:
    query = sys.stdin.read() if args.query in (None, "-") else args.query
    params = dict(args.param or [])
    asked = dict(args.setting or [])
    fmt = _output_format(args)
    gateway = remote.find(settings)
    if gateway is not None:
        _say(args, f"via the gateway at {gateway.url} (pid {gateway.owner.pid})")
        _sql_via_gateway(settings, gateway, query, params, asked, fmt)
        return 0
    remote.require_warehouse(settings, settings.sql_dsn)
    from gateway.api.clickhouse_http import Limits
    from gateway.api.sql_settings import allowed_settings
    from warehouse import WarehouseError, parse_dsn
    from warehouse.analyst import Analyst, escape_value

    _say(args, f"no gateway owns {settings.data_dir}; opening {parse_dsn(settings.sql_dsn)!r} directly")
    # The same checks, allow-list and limits as the gateway's interface: the SQL is an analyst's, wherever it runs.
    limits = Limits(
        settings.sql_max_seconds, settings.sql_max_result_rows, settings.sql_max_result_bytes, settings.sql_max_memory
    )
    binds = {name: escape_value(value) for name, value in params.items()}
    try:
        effective = limits.apply(allowed_settings(asked))
        analyst = Analyst.connect(settings.sql_dsn)
        try:
            checked = analyst.prepare(query, binds)
            for chunk in analyst.execute(checked, binds, effective, checked.fmt or fmt, "ga4gw-cli"):
                sys.stdout.buffer.write(chunk)
        finally:
            analyst.close()
    except WarehouseError as exc:
        raise CommandError(exc.message) from None
    sys.stdout.flush()
    return 0


def _say(args: argparse.Namespace, message: str) -> None:
    if args.verbose:
        print(f"ga4gw: {message}", file=sys.stderr)


def _sql_via_gateway(
    settings: Settings, gateway: remote.Remote, query: str, params: dict[str, str], asked: dict[str, str], fmt: str
) -> None:
    """Send the query to the running gateway and copy its answer to standard output as it arrives."""
    from warehouse.analyst import escape_value

    url_params = {**asked, "default_format": fmt, **{f"param_{k}": escape_value(v) for k, v in params.items()}}
    with gateway.stream("POST", "/clickhouse/", ["sql:read"], params=url_params, content=query.encode(),
                        timeout=settings.sql_max_seconds + 10) as response:  # fmt: skip
        if response.status_code != 200:
            raise CommandError(response.read().decode(errors="replace").strip())
        for chunk in response.iter_bytes():
            sys.stdout.buffer.write(chunk)
    sys.stdout.flush()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``migrate`` and ``sql``."""
    sub.add_parser("migrate", help="apply pending warehouse migrations").set_defaults(run=_migrate)

    sql = sub.add_parser("sql", help="run a read-only query on the warehouse and print the result")
    sql.add_argument("query", nargs="?", help="the SQL; '-' or nothing reads it from standard input")
    sql.add_argument("--format", default="TabSeparated", help="any ClickHouse output format (default TabSeparated)")
    sql.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print the column names first (default: when standard output is a terminal)",
    )
    sql.add_argument(
        "--setting",
        type=param,
        action="append",
        metavar="NAME=VALUE",
        help="a per-query setting from the README's allow-list (limits can only be lowered); repeatable",
    )
    sql.add_argument("-v", "--verbose", action="store_true", help="say on stderr which way the query went")
    sql.add_argument(
        "--param",
        type=param,
        action="append",
        metavar="NAME=VALUE",
        help="a value for a {NAME:Type} placeholder; repeatable",
    )
    sql.set_defaults(run=_sql)
