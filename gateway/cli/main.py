"""``ga4gw``: the operator's and analyst's command line.

Each command group lives in its own module and adds its subcommands with ``register(sub)``; this module only
assembles them, loads the settings and turns errors into one line and an exit status: 2 for bad input or
settings, 1 when the operation failed. Groups raise ``gateway.errors.CommandError``; none imports this module.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from gateway.config.settings import load_settings
from gateway.errors import CommandError, SettingsError
from gateway.telemetry import logs

from . import attribution, erasure, ga4, identity, imports, links, serve, settings, tokens, warehouse

__all__ = ["main"]

_GROUPS = (
    serve,
    warehouse,
    tokens,
    links,
    ga4,
    identity,
    erasure,
    attribution,
    imports,
    settings,
)  # in the order ``ga4gw --help`` lists them


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ga4gw", description="ga4-gateway: first-party email tracking for GA4")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in _GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ga4gw`` console script."""
    args = _parser().parse_args(argv)  # argparse writes --help itself and ignores a closed pipe
    try:
        return _run(args)
    except BrokenPipeError:
        return _reader_left()


def _reader_left() -> int:
    """Standard output's reader went away (``ga4gw sql ... | head``): end quietly, as a shell tool killed by
    SIGPIPE would. Python's documented recipe: point standard output at /dev/null so that the interpreter's
    own flush at exit does not fail a second time and print a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
        logs.configure(settings.log_format, settings.log_level)
        status: int = args.run(settings, args)
        sys.stdout.flush()  # here, so a reader that left shows as BrokenPipeError while it can still be handled
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
