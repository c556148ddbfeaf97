"""``ga4gw serve``: run the gateway under uvicorn on a socket bound here, so port 0 and errors are ours to report."""

from __future__ import annotations

import argparse
import gc
import logging
import socket

from gateway.config.settings import Settings
from gateway.errors import CommandError
from gateway.stores import runfile

__all__ = ["register"]


def _public_url(settings: Settings, host: str, port: int) -> str:
    """``GA4GW_PUBLIC_URL`` as set, else this listener's own address: links and pixels signed for the default
    ``:8080`` would lead nowhere from a gateway on another port (``make run PORT=19170``)."""
    if "public_url" not in settings.defaulted:
        return settings.public_url
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 -- every address: links name the loopback one, as the default does
        host = "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.service.app import create_app
    from gateway.service.http_protocol import guarded_protocol

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
    settings = settings.replace(
        host=host,
        port=bound,
        public_url=_public_url(settings, host, bound),
        access_log_edge=settings.access_log_edge or args.access_log,
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        log_config=None,  # the root logger's handler (telemetry.logs), so uvicorn's lines are JSON too when asked
        access_log=False,  # gateway.telemetry.access writes the access lines, with the request id
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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve``."""
    serve = sub.add_parser("serve", help="run the gateway (HTTP server)")
    serve.add_argument("--host", help="address to listen on (default: GA4GW_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on, 0 for any free port (default: GA4GW_PORT)")
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="also log each open and click, like GA4GW_ACCESS_LOG_EDGE=true (costs throughput)",
    )
    serve.set_defaults(run=_serve)
