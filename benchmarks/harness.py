"""What the edge benchmark and the crash test share: wrk, a gateway process, signed paths, the warehouse.

Everything runs on this machine's loopback only. The gateway is pinned to CPU 0 (all its threads,
set at start) and wrk to CPU 1, so the figures are those of one gateway process on one core.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "lua"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gateway.api.auth import TokenAuthority  # noqa: E402
from gateway.config.keys import load_keyrings  # noqa: E402
from gateway.config.settings import load_settings  # noqa: E402
from gateway.edge.links import LinkSigner, LinkToken, TokenKind  # noqa: E402
from identity import Pseudonymizer  # noqa: E402


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package when it is missing (CI starts from a bare machine)."""
    found = shutil.which("wrk")
    if found:
        return found
    say("wrk is missing: installing Debian's package ...")
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=True)
        subprocess.run(install, capture_output=True, check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed (apt-get install wrk)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpu: int, command: list[str]) -> list[str]:
    """``command`` pinned to one CPU when taskset exists and the machine has more than one."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(cpu), *command]
    return command


@dataclass
class Gateway:
    """A gateway process on a data directory, pinned to CPU 0."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    settings: dict[str, str] | None = None  # extra GA4GW_* settings
    root: Path = ROOT  # the checkout whose gateway runs (another one to compare with an older version)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GA4GW_")}
        # The links go to shop.example: that is the shop, so clicks carry their landing token as in production.
        env.update(
            GA4GW_DATA_DIR=str(self.data_dir),
            GA4GW_LOG_LEVEL="warning",
            GA4GW_PUBLIC_URL=self.url,
            GA4GW_LANDING_DOMAINS="shop.example",
        )
        env.update(self.settings or {})
        return env

    def start(self, *, ready: str = "/readyz") -> Gateway:
        """Start and wait until ``ready`` answers 200 (``/healthz`` when the warehouse is meant to be away)."""
        command = [sys.executable, "-m", "gateway", "serve", "--port", str(self.port)]
        with (self.data_dir / "gateway.log").open("ab") as log:
            self.proc = subprocess.Popen(pinned(0, command), env=self.env(), cwd=self.root, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.proc.returncode}; see {self.data_dir}/gateway.log")
            try:
                if httpx.get(self.url + ready, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the gateway did not become ready within 60 s")

    def kill(self) -> None:
        """kill -9: no shutdown, no flush."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def peak_rss_mib(self) -> float:
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        return int(match.group(1)) / 1024 if match else 0.0

    def drained(self, timeout: float = 120.0) -> None:
        """Wait until the outbox has shipped everything to the warehouse."""
        deadline = time.monotonic() + timeout
        while httpx.get(self.url + "/readyz", timeout=10).json().get("outbox", {}).get("pending", 1):
            if time.monotonic() > deadline:
                raise RuntimeError("the outbox did not drain")
            time.sleep(0.1)

    def sql(self, query: str) -> list[dict[str, object]]:
        token = TokenAuthority(load_keyrings(load_settings(self.env())).api).issue("bench", ["sql:read"], 600)
        answer = httpx.post(self.url + "/clickhouse/", params={"default_format": "JSONEachRow"},
                            content=query.encode(), auth=("bench", token), timeout=120)  # fmt: skip
        answer.raise_for_status()
        return [json.loads(line) for line in answer.text.splitlines()]


def signer_for(gateway: Gateway) -> LinkSigner:
    keys = load_keyrings(load_settings(gateway.env()), generate=True)  # generates the data directory's keys if needed
    return LinkSigner(keys.signing, gateway.url, Pseudonymizer(keys.pseudonym.keys))


def write_paths(
    path: Path,
    signer: LinkSigner,
    count: int,
    *,
    kind: TokenKind,
    campaign: str,
    offset: int = 0,
    recipients: int = 5000,
) -> None:
    """``count`` distinct request paths (``recipients`` distinct recipients); clicks carry their number as ``n``.

    With ``recipients`` at least ``count`` every click has its own recipient, hence its own GA4 user id: the
    soak counts clicks relayed twice by that id.
    """
    sent = int(time.time()) - 3600
    lines = []
    for i in range(offset, offset + count):
        token = LinkToken(
            kind=TokenKind.CLICK, campaign_id=campaign, recipient=f"sub-{i % recipients}", link_id=str(i % 7 + 1),
            url=f"https://shop.example/p?n={i}", variant="AB"[i % 2], sent_at=sent,
        )  # fmt: skip
        url = signer.click_url(token) if kind is TokenKind.CLICK else signer.pixel_url(token)
        lines.append(url.removeprefix(signer_base(url)))
    path.write_text("\n".join(lines) + "\n")


def signer_base(url: str) -> str:
    return url[: url.index("/", len("http://"))]


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rate: float
    mean_ms: float
    p50_ms: float
    p99_ms: float
    errors: int
    output: str


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, script: Path, args: list[str], *, connections: int, seconds: float) -> WrkResult:
    """Run wrk on CPU 1 with a Lua script and parse its summary."""
    command = [ensure_wrk(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), url]
    done = subprocess.run(pinned(1, [*command, "--", *args]), capture_output=True, text=True, check=False)
    out = done.stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    mean = re.search(r"Latency\s+(\S+)", out)
    p50 = re.search(r"\n\s+50%\s+(\S+)", out)
    p99 = re.search(r"\n\s+99%\s+(\S+)", out)
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    if not (total and rate and mean and p50 and p99):
        raise RuntimeError(f"unexpected wrk output:\n{out}\n{done.stderr}")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}.get(total.group(3), 1.0)
    return WrkResult(int(total.group(1)), float(total.group(2)) * scale, float(rate.group(1)), _ms(mean.group(1)),
                     _ms(p50.group(1)), _ms(p99.group(1)), errors, out)  # fmt: skip
