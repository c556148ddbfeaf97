"""``ga4gw``: the operator's and analyst's command line.

Errors print one line naming the setting or input to fix and exit with status 2
(bad input or settings) or 1 (the operation failed).
"""

from __future__ import annotations

import argparse
import gc
import logging
import re
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import runfile
from .attribution_cli import add_attribution_parser
from .auth import SCOPES, TokenAuthority
from .erasure_cli import add_erase_command
from .errors import GatewayError, SettingsError
from .ga4_cli import add_ga4_commands
from .identity_cli import add_identity_commands
from .keys import load_keyrings
from .settings import SPECS, Settings, load_settings

__all__ = ["main"]

_DURATION = re.compile(r"^(\d+)([smhd])$")
_JTI = re.compile(r"[A-Za-z0-9_-]{8,64}")
_LEEWAY = 60  # beyond exp: the authority accepts a token up to 30 s late
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class CommandError(GatewayError):
    """A command failed for a reason the user can act on; ``status`` is the exit code."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _duration(text: str) -> int:
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 12h or 90d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not name=value")
    return name, value


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .http_protocol import guarded_protocol

    owner = runfile.read(settings.data_dir)
    if owner is not None:
        raise CommandError(
            f"another gateway (pid {owner.pid}, {owner.url}) owns {settings.data_dir}; "
            "stop it or set GA4GW_DATA_DIR to another directory",
            2,
        )
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port} ({exc.strerror}); set GA4GW_PORT or --port", 2) from None
    bound = sock.getsockname()[1]
    settings = settings.replace(host=host, port=bound)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        access_log=args.access_log,
        server_header=False,
        timeout_graceful_shutdown=10,
        http=guarded_protocol(settings.http_max_header_bytes, settings.http_read_timeout),
        proxy_headers=True,
        forwarded_allow_ips=list(settings.trusted_proxies),
    )
    url = f"http://{'[' + host + ']' if ':' in host else host}:{bound}"
    app.state.listen_url = url
    logging.getLogger("ga4gw").info("listening on %s (data directory %s)", url, settings.data_dir)
    # Everything loaded so far lives as long as the process: keep the cyclic GC from rescanning it, and let
    # the short-lived objects of each request (dozens of them) pile up a little longer between collections.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        runfile.clear(settings.data_dir)
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from warehouse import Warehouse, migrate

    if runfile.read(settings.data_dir) is not None and settings.dsn.startswith("chdb://"):
        print("the running gateway applied the migrations at its start; nothing to do", file=sys.stderr)
        return 0
    wh = Warehouse.connect(settings.dsn, cluster=settings.clickhouse_cluster)
    applied = migrate(wh, settings.retention_months)
    print(f"applied migrations {applied}" if applied else "the schema is up to date")
    return 0


def _sql(settings: Settings, args: argparse.Namespace) -> int:
    query = sys.stdin.read() if args.query in (None, "-") else args.query
    params = dict(args.param or [])
    owner = runfile.read(settings.data_dir)
    if owner is not None:
        _say(args, f"via the gateway at {owner.url} (pid {owner.pid})")
        _sql_via_gateway(settings, owner, query, params, args.format)
        return 0
    from warehouse import WarehouseError, parse_dsn
    from warehouse.analyst import Analyst, escape_value

    from .clickhouse_http import Limits

    _say(args, f"no gateway owns {settings.data_dir}; opening {parse_dsn(settings.sql_dsn)!r} directly")
    # The same checks and limits as the gateway's interface: the SQL is an analyst's, wherever it runs.
    analyst = Analyst.connect(settings.sql_dsn)
    limits = Limits(
        settings.sql_max_seconds, settings.sql_max_result_rows, settings.sql_max_result_bytes, settings.sql_max_memory
    )
    binds = {name: escape_value(value) for name, value in params.items()}
    try:
        checked = analyst.prepare(query, binds)
        for chunk in analyst.execute(checked, binds, limits.apply({}), checked.fmt or args.format, "ga4gw-cli"):
            sys.stdout.buffer.write(chunk)
    except WarehouseError as exc:
        raise CommandError(exc.message) from None
    finally:
        analyst.close()
    sys.stdout.flush()
    return 0


def _say(args: argparse.Namespace, message: str) -> None:
    if args.verbose:
        print(f"ga4gw: {message}", file=sys.stderr)


def _sql_via_gateway(settings: Settings, owner: runfile.RunInfo, query: str, params: dict[str, str], fmt: str) -> None:
    """Send the query to the running gateway and copy its answer to standard output as it arrives."""
    from warehouse.analyst import escape_value

    token = TokenAuthority(load_keyrings(settings).api).issue("cli", ["sql:read"], 300)
    url_params = {"default_format": fmt, **{f"param_{k}": escape_value(v) for k, v in params.items()}}
    try:
        with httpx.stream(
            "POST",
            f"{owner.url}/clickhouse/",
            params=url_params,
            content=query.encode(),
            auth=("cli", token),
            timeout=settings.sql_max_seconds + 10,
        ) as response:
            if response.status_code != 200:
                raise CommandError(response.read().decode(errors="replace").strip())
            for chunk in response.iter_bytes():
                sys.stdout.buffer.write(chunk)
    except httpx.HTTPError as exc:
        raise CommandError(f"the gateway (pid {owner.pid}) at {owner.url} did not answer: {exc}") from None
    sys.stdout.flush()


def _token(settings: Settings, args: argparse.Namespace) -> int:
    try:
        print(TokenAuthority(load_keyrings(settings).api).issue(args.subject, args.scope, args.ttl))
    except ValueError as exc:
        raise CommandError(f"--scope: {exc}", 2) from None
    return 0


def _token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from .errors import TokenInvalid
    from .revocation import Revocations

    value = args.token.strip()
    revocations = Revocations.in_dir(settings.data_dir)
    try:
        if value.count(".") == 2:  # the token itself: its own expiry bounds the revocation
            try:
                jti, exp, subject = TokenAuthority(load_keyrings(settings).api).identify(value)
            except TokenInvalid as exc:
                raise CommandError(f"the token cannot be revoked: {exc}", 2) from None
            if not jti:
                raise CommandError("the token has no jti: rotate GA4GW_API_KEYS to revoke it", 2)
            if exp + _LEEWAY < time.time():
                print(f"token {jti} of {subject} has expired already: it is refused anyway")
                return 0
            revocations.revoke_token(jti, exp + _LEEWAY)
            until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(exp))
            print(f"revoked token {jti} of {subject} (the entry lapses when the token expires, {until})")
        elif _JTI.fullmatch(value):
            revocations.revoke_token(value, None)
            print(f"revoked token {value} (its expiry is unknown: the entry is kept for good)")
        else:
            raise CommandError("give the token itself or its jti (8 to 64 letters, digits, '-' or '_')", 2)
    finally:
        revocations.close()
    print("running gateways on this data directory refuse it within a second")
    return 0


def _link_options(args: argparse.Namespace) -> dict[str, Any]:
    from .links import Mode

    if args.mode != "anonymous" and not (args.recipient or args.email):
        raise CommandError("--recipient or --email is required unless --mode anonymous", 2)
    return {
        "campaign": args.campaign,
        "recipient": args.recipient,
        "email": args.email,
        "variant": args.variant,
        "mode": Mode[args.mode.upper()],
        "expires_in_days": args.expires_in_days,
    }


def _links_sign(settings: Settings, args: argparse.Namespace) -> int:
    from .links_api import build_link_signer, tracked_links

    for url in args.urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CommandError(f"URL {url!r} is not an absolute http(s) URL", 2)
    try:
        tracked, _ = tracked_links(build_link_signer(settings), urls=args.urls, **_link_options(args))
    except ValueError as exc:  # a destination outside GA4GW_LINK_DESTINATIONS, too long, a control character
        raise CommandError(str(exc), 2) from None
    print("\n".join(tracked))
    return 0


def _rewrite(settings: Settings, args: argparse.Namespace) -> int:
    from .links_api import build_link_signer, tracked_html

    # Bytes that are not UTF-8 pass through untouched (surrogateescape both ways).
    html = sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")
    try:
        result, _ = tracked_html(
            build_link_signer(settings), html, track_unsubscribe=args.track_unsubscribe, **_link_options(args)
        )
    except ValueError as exc:  # a link outside GA4GW_LINK_DESTINATIONS, too long, a control character
        raise CommandError(str(exc), 2) from None
    sys.stdout.buffer.write(result.html.encode("utf-8", errors="surrogateescape"))
    sys.stdout.flush()
    print(
        f"ga4gw: {len(result.links)} links tracked, pixel {'added' if result.pixel_inserted else 'present'}",
        file=sys.stderr,
    )
    return 0


def _add_link_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--campaign", required=True, help="campaign id")
    parser.add_argument("--recipient", default="", help="the sending module's subscriber id (kept as given)")
    parser.add_argument("--email", default="", help="recipient email: only its keyed pseudonym goes in the links")
    parser.add_argument("--variant", default="", help="A/B variant")
    parser.add_argument("--mode", default="pseudonymous", choices=["anonymous", "pseudonymous", "identified"])
    parser.add_argument("--expires-in-days", type=int, default=0, help="link lifetime; 0 for none")


def _settings_cmd(settings: Settings, args: argparse.Namespace) -> int:
    if args.markdown:
        print("| variable | default | what it does |\n|---|---|---|")
        for spec in SPECS:
            default = f"`{spec.default}`" if spec.default else "(empty)"
            print(f"| `{spec.env}` | {default} | {spec.help} |")
        return 0
    for spec in SPECS:
        value = getattr(settings, spec.name)
        shown = ("(set)" if str(value) else "(empty)") if spec.secret else value
        print(f"{spec.env}={shown}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ga4gw", description="ga4-gateway: first-party email tracking for GA4")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (HTTP server)")
    serve.add_argument("--host", help="address to listen on (default: GA4GW_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on, 0 for any free port (default: GA4GW_PORT)")
    serve.add_argument("--access-log", action="store_true", help="log every request (costs throughput)")
    serve.set_defaults(run=_serve)

    sub.add_parser("migrate", help="apply pending warehouse migrations").set_defaults(run=_migrate)

    sql = sub.add_parser("sql", help="run a read-only query on the warehouse and print the result")
    sql.add_argument("query", nargs="?", help="the SQL; '-' or nothing reads it from standard input")
    sql.add_argument("--format", default="TabSeparated", help="any ClickHouse output format (default TabSeparated)")
    sql.add_argument("-v", "--verbose", action="store_true", help="say on stderr which way the query went")
    sql.add_argument(
        "--param",
        type=_param,
        action="append",
        metavar="NAME=VALUE",
        help="a value for a {NAME:Type} placeholder; repeatable",
    )
    sql.set_defaults(run=_sql)

    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    issue = token.add_parser("issue", help="mint an API token (JWT) and print it")
    issue.add_argument(
        "--scope", action="append", required=True, help=f"repeatable; one of {', '.join(sorted(SCOPES))}"
    )
    issue.add_argument("--subject", default="operator", help="who the token is for (shows in audit records)")
    issue.add_argument("--ttl", type=_duration, default=_duration("90d"), help="lifetime, e.g. 30m, 12h, 90d")
    issue.set_defaults(run=_token)
    revoke = token.add_parser("revoke", help="revoke an API token: running gateways refuse it within a second")
    revoke.add_argument("token", metavar="TOKEN_OR_JTI", help="the token (JWT) or its jti")
    revoke.set_defaults(run=_token_revoke)

    links = sub.add_parser("links", help="tracked links").add_subparsers(dest="links_command", required=True)
    sign = links.add_parser("sign", help="print one tracked URL per destination")
    _add_link_options(sign)
    sign.add_argument("urls", nargs="+", metavar="URL", help="absolute http(s) destinations")
    sign.set_defaults(run=_links_sign)

    rewrite = sub.add_parser(
        "rewrite", help="rewrite an email's HTML (stdin) with tracked links and the pixel (stdout)"
    )
    _add_link_options(rewrite)
    rewrite.add_argument("--track-unsubscribe", action="store_true", help="track unsubscribe links too")
    rewrite.set_defaults(run=_rewrite)

    add_ga4_commands(sub)
    add_identity_commands(sub)
    add_erase_command(sub)

    add_attribution_parser(sub)

    show = sub.add_parser("settings", help="print the effective settings (secrets masked)")
    show.add_argument("--markdown", action="store_true", help="print the settings reference table instead")
    show.set_defaults(run=_settings_cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ga4gw`` console script."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        _logging(settings)
        status: int = args.run(settings, args)
        return status
    except SettingsError as exc:
        print(f"ga4gw: setting {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"ga4gw: {exc}", file=sys.stderr)
        return exc.status
    except Exception as exc:
        from warehouse import WarehouseError

        if isinstance(exc, WarehouseError):
            print(f"ga4gw: warehouse: {exc.message}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
