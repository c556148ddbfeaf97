"""``ga4gw attribution run [--since ...] [--until ...] [--model ...]``: attribute conversions from the command line.

The run opens the warehouse itself. An embedded warehouse belongs to one process, so while a gateway owns the
data directory the command refuses and says so (the gateway's nightly run covers it).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime
from typing import TextIO

from gateway.config.domain import attribution_config
from gateway.config.settings import Settings
from gateway.stores import runfile

__all__ = ["register"]

_BAR = 30


class ProgressBar:
    """A one-line progress bar on a terminal, redrawn in place every ``tick`` seconds so that the elapsed time moves
    during a long step; one line per step elsewhere (logs, pipes)."""

    def __init__(self, stream: TextIO, *, tick: float = 0.5) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._started = time.monotonic()
        self._state = ("starting", 0, 1)
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._ticker: threading.Thread | None = None
        if self._tty:
            self._ticker = threading.Thread(target=self._redraw_until_done, args=(tick,), daemon=True)
            self._ticker.start()

    def __call__(self, step: str, done: int, total: int) -> None:
        with self._lock:
            self._state = (step, done, total)
            self._draw(final=step == "done")
        if step == "done":
            self._finished.set()

    def close(self) -> None:
        """Stop redrawing (a run that failed never reports ``done``)."""
        self._finished.set()
        if self._ticker is not None:
            self._ticker.join()

    def _redraw_until_done(self, tick: float) -> None:
        while not self._finished.wait(tick):
            with self._lock:
                self._draw(final=False)

    def _draw(self, *, final: bool) -> None:
        step, done, total = self._state
        filled = _BAR * done // max(total, 1)
        elapsed = time.monotonic() - self._started
        line = f"[{'#' * filled}{'.' * (_BAR - filled)}] {done}/{total} {step} ({elapsed:.1f}s)"
        if self._tty:
            self._stream.write("\r\033[K" + line + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 date or time (2026-03-01 or ...T12:00Z)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from attribution import MODELS, run_attribution
    from gateway.errors import CommandError
    from warehouse import Warehouse, migrate

    owner = runfile.read(settings.data_dir)
    if owner is not None and settings.dsn.startswith("chdb://"):
        raise CommandError(
            f"the gateway (pid {owner.pid}, {owner.url}) owns the embedded warehouse; stop it to run attribution "
            "from the command line, or let its nightly run (GA4GW_ATTRIBUTION_NIGHTLY_AT) do it",
            2,
        )
    models = args.model or list(MODELS)
    bar = None if args.quiet else ProgressBar(sys.stderr)
    wh = Warehouse.connect(settings.dsn, cluster=settings.clickhouse_cluster)
    try:
        migrate(wh, settings.retention_months)
        summary = run_attribution(
            wh, attribution_config(settings), models=models, since=args.since, until=args.until, progress=bar
        )
    finally:
        if bar is not None:
            bar.close()
        wh.close()
    print(
        f"attributed {summary.conversions} conversions ({summary.touches} touches) "
        f"from {summary.since:%Y-%m-%d %H:%M:%S} to {summary.until:%Y-%m-%d %H:%M:%S} UTC, run {summary.run_id}"
    )
    for step, seconds in summary.seconds.items():
        line = f"  {step:<16} {seconds:8.2f}s"
        bounds: dict[str, float] = summary.errors.get(step, {})
        if bounds and max(bounds.values()) > 0:
            line += f"  (sampled; largest 95% error of a channel value {max(bounds.values()):.4f})"
        print(line)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``attribution`` to the ``ga4gw`` subcommands (``sub`` is argparse's subparsers object)."""
    from attribution import MODELS

    group = sub.add_parser("attribution", help="attribution of conversions to emails and other channels")
    commands = group.add_subparsers(dest="attribution_command", required=True)
    run = commands.add_parser("run", help="attribute conversions and write credits to the warehouse")
    run.add_argument(
        "--since",
        type=_when,
        help="first conversion time to (re)attribute; default: where the last run ended, less a day",
    )
    run.add_argument("--until", type=_when, help="end of the window (exclusive); default: now")
    run.add_argument(
        "--model", action="append", choices=MODELS, help="a model to run; repeatable (default: every model)"
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(run=_run)
