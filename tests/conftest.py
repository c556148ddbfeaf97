"""Shared fixtures: the real embedded engine (chDB) and real gateway processes under uvicorn."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from gateway.ga4.standin import StandIn
from warehouse import Warehouse

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One engine path for the whole test process: chDB allows a single path per process."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def warehouse(chdb_dir: Path) -> Iterator[Warehouse]:
    """A fresh database on the shared embedded engine."""
    wh = Warehouse.connect(f"chdb://{chdb_dir}?database=t_{uuid.uuid4().hex[:12]}")
    yield wh
    wh.command(f"DROP DATABASE IF EXISTS `{wh.database}`")
    wh.close()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: no GA4GW_* from the outside, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GA4GW_")}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str], stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``ga4gw`` (as ``python -m gateway``) and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@dataclass
class LiveGateway:
    """A gateway process under real uvicorn on a free port."""

    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    tokens: dict[tuple[str, ...], str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def token(self, *scopes: str) -> str:
        """A token from ``ga4gw token issue`` (kept per scopes: a CLI run per request would cost a second)."""
        if scopes not in self.tokens:
            args = ["token", "issue", "--subject", "tests"] + [a for s in scopes for a in ("--scope", s)]
            result = run_cli(*args, env=self.env)
            assert result.returncode == 0, result.stderr
            self.tokens[scopes] = result.stdout.strip()
        return self.tokens[scopes]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_gateway(data_dir: Path, *, wait_ready: bool = True, **settings: str) -> LiveGateway:
    """Start ``ga4gw serve --port 0`` and wait until it answers (and is ready, unless told not to)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    # Test destinations are on shop.example while the tracking domain is 127.0.0.1: that shop gets landing tokens.
    settings = {"GA4GW_LANDING_DOMAINS": "shop.example", **settings}
    env = clean_env(GA4GW_DATA_DIR=str(data_dir), GA4GW_LOG_LEVEL="info", **settings)
    log_path = data_dir / "gateway.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", "0"], env=env, stdout=log, stderr=log, cwd=ROOT
        )
    gw = LiveGateway(data_dir=data_dir, env=env, proc=proc, log_path=log_path)
    runfile = data_dir / "run" / "gateway.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the gateway exited with {proc.returncode}:\n{gw.log()}")
        if runfile.exists():
            gw.url = json.loads(runfile.read_text())["url"]
            if not wait_ready or httpx.get(gw.url + "/readyz").status_code == 200:
                return gw
        time.sleep(0.1)
    gw.stop()
    raise AssertionError(f"the gateway did not become ready:\n{gw.log()}")


@pytest.fixture
def live_gateway(tmp_path: Path) -> Iterator[LiveGateway]:
    gw = start_gateway(tmp_path / "data")
    yield gw
    # uvicorn re-raises SIGTERM after a graceful shutdown, so -SIGTERM is a clean stop.
    assert gw.stop() in (0, -signal.SIGTERM), gw.log()
    assert "Application shutdown complete" in gw.log()


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """The Measurement Protocol stand-in, a real HTTP server on a free port (secret ``stand-in-secret``)."""
    with StandIn(api_secret="stand-in-secret") as server:
        yield server


def configured_keys() -> dict[str, str]:
    """The three keyrings as settings, for a CLI that signs with no gateway's data directory (a sending module's
    set-up): only ``ga4gw serve`` generates development keys."""
    return {
        "GA4GW_SIGNING_KEYS": "t1:" + "s" * 40,
        "GA4GW_API_KEYS": "t1:" + "a" * 40,
        "GA4GW_PSEUDONYM_KEYS": "t1:" + "p" * 40,
    }
