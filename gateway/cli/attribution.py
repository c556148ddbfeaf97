"""``ga4gw attribution run [--since ...] [--until ...] [--model ...]``: attribute conversions from the command line.

With no gateway running the command opens the warehouse itself. While a gateway owns the data directory (found by
``remote.find``, as every command finds it) the run goes through it: ``POST /v1/attribution/runs`` with a
short-lived token the command mints from the keyring, then its status is followed to the end, the progress bar fed
from it. So the run waits behind any run under way there (the nightly one included) and never opens the embedded
warehouse twice.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import httpx

from gateway.config.domain import attribution_config
from gateway.config.settings import Settings

from . import remote

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
    from warehouse import Warehouse, migrate

    gateway = remote.find(settings)
    if gateway is not None:
        return _run_via_gateway(gateway, args)
    remote.require_warehouse(settings)
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
    _print_steps(summary.seconds, summary.errors)
    return 0


_POLL_SECONDS = 0.25


def _run_via_gateway(gateway: remote.Remote, args: argparse.Namespace) -> int:
    """Ask the running gateway for the run and follow its status to the end."""
    from gateway.errors import CommandError

    token = gateway.token(["attribution:run"], 24 * 3600)
    body: dict[str, Any] = {}
    if args.model:
        body["models"] = args.model
    for key in ("since", "until"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key).isoformat()
    print(f"ga4gw: running attribution through {gateway.name}", file=sys.stderr)
    bar = None if args.quiet else ProgressBar(sys.stderr)
    try:
        status = _follow(_client(gateway, token), body, bar)
    except httpx.HTTPError as exc:
        raise CommandError(f"{gateway.name} did not answer: {exc}") from None
    finally:
        if bar is not None:
            bar.close()
    if status["status"] == "failed":
        raise CommandError(f"the run failed: {status.get('error', 'no reason given')}")
    since, until = (datetime.fromisoformat(status[k]) for k in ("since", "until"))
    print(
        f"attributed {status['conversions']} conversions ({status['touches']} touches) "
        f"from {since:%Y-%m-%d %H:%M:%S} to {until:%Y-%m-%d %H:%M:%S} UTC, run {status['run_id']}"
    )
    _print_steps(status["seconds"], status["errors"])
    return 0


def _client(gateway: remote.Remote, token: str) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {token}"}, timeout=30)


def _follow(client: httpx.Client, body: dict[str, Any], bar: ProgressBar | None) -> dict[str, Any]:
    """Start the run and poll its status until it ends, feeding the bar with the run's own steps."""
    from gateway.errors import CommandError

    with client:
        answer = client.post("/v1/attribution/runs", json=body)
        if answer.status_code != 202:
            raise CommandError(f"the gateway refused the run ({answer.status_code}): {answer.text.strip()}")
        url = answer.json()["status_url"]
        shown: tuple[str, int, int] | None = None
        while True:
            status: dict[str, Any] = client.get(url).json()
            progress = status["progress"]
            step = (progress["step"], progress["done"], progress["total"])
            if status["status"] == "done":
                step = ("done", step[2], step[2])
            if bar is not None and status["status"] in ("running", "done") and step != shown:
                bar(*step)
                shown = step
            if status["status"] in ("done", "failed"):
                return status
            time.sleep(_POLL_SECONDS)


def _print_steps(seconds: dict[str, float], errors: dict[str, dict[str, float]]) -> None:
    for step, took in seconds.items():
        line = f"  {step:<16} {took:8.2f}s"
        bounds = errors.get(step, {})
        if bounds and max(bounds.values()) > 0:
            line += f"  (sampled; largest 95% error of a channel value {max(bounds.values()):.4f})"
        print(line)


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
