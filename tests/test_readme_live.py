"""Every shell block of the README runs as written (issue 16): against a live gateway, with only the ports
substituted (the gateway's for 8080, a stand-in's for 9999) and the gateway's data directory in the environment.

A block that cannot run in a test (``make run`` itself, the vendors' DNS) carries
``<!-- readme-test: skip (reason) -->`` on the line before it; the test prints how many blocks ran and were
skipped. The reader has run ``. .venv/bin/activate`` as the set-up says: here ``.venv/bin`` is a directory of
shims that run this checkout's code (``ga4gw`` is ``python -m gateway``), and ``curl`` fails on an HTTP error
(``--fail-with-body``), so an answer like 415 fails the block instead of printing quietly.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.ga4.standin import StandIn
from tests.conftest import ROOT, clean_env, start_gateway

pytestmark = pytest.mark.live

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SKIP = re.compile(r"<!--\s*readme-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->\s*$")
_SHELL = ("sh", "bash", "shell", "console")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    script: str
    skip: str  # the reason, or "" to run it


def readme_blocks(text: str) -> list[Block]:
    """The README's shell blocks in order, each with the skip reason written on the line before it."""
    blocks = []
    for match in _FENCE.finditer(text):
        if match.group(1) not in _SHELL:
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = _SKIP.search(before)
        script = match.group(2)
        if match.group(1) == "console":  # only the prompts' lines are commands
            script = "\n".join(line[2:] for line in script.splitlines() if line.startswith("$ "))
        blocks.append(Block(text.count("\n", 0, match.start()) + 1, script, skip["reason"] if skip else ""))
    return blocks


def _shims(venv_bin: Path) -> None:
    """``.venv/bin`` as ``make run`` leaves it, running this checkout's code: activate, ga4gw, python, curl."""
    venv_bin.mkdir(parents=True)
    files = {
        "activate": f'PATH="{venv_bin}:$PATH"\nexport PATH\n',
        "ga4gw": f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m gateway "$@"\n',
        "python": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n',
        "curl": f'#!/bin/sh\nexec "{shutil.which("curl")}" --fail-with-body --max-time 60 "$@"\n',
    }
    for name, body in files.items():
        (venv_bin / name).write_text(body)
        (venv_bin / name).chmod(0o755)


def test_skip_markers_precede_shell_blocks() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    marked = [i for i, line in enumerate(text.splitlines()) if "readme-test:" in line]
    lines = text.splitlines()
    for i in marked:
        assert _SKIP.search(lines[i]), f"README line {i + 1}: write <!-- readme-test: skip (reason) -->"
        fence = lines[i + 1]
        assert fence.startswith("```"), f"README line {i + 1}: a skip marker must be right before a shell block"
        assert fence[3:].split()[0] in _SHELL, f"README line {i + 1}: a skip marker must be before a shell block"


def test_every_readme_shell_block_runs_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    checkout = tmp_path / "checkout"  # the blocks' working directory: files they write stay out of the project
    _shims(checkout / ".venv" / "bin")
    gw = start_gateway(tmp_path / "data")
    failures, ran, skipped = [], [], []
    try:
        with StandIn() as standin:
            ports = {"8080": gw.url.rsplit(":", 1)[1], "9999": str(standin.port)}
            env = clean_env(GA4GW_DATA_DIR=str(gw.data_dir), PATH=f"{checkout / '.venv' / 'bin'}:/usr/bin:/bin")
            for block in blocks:
                if block.skip:
                    skipped.append(f"line {block.line}: {block.skip}")
                    continue
                script = re.sub(r"\b(8080|9999)\b", lambda m: ports[m[1]], block.script)
                ran.append(block.line)
                try:
                    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], env=env, cwd=checkout,
                                          capture_output=True, text=True, timeout=120)  # fmt: skip
                except subprocess.TimeoutExpired:
                    failures.append(f"README line {block.line}: still running after 120 s (mark it skip?):\n{script}")
                    continue
                if done.returncode != 0:
                    output = f"--- stdout\n{done.stdout[-2000:]}\n--- stderr\n{done.stderr[-2000:]}"
                    failures.append(f"README line {block.line} (exit {done.returncode}):\n{script}\n{output}")
    finally:
        gw.stop()
    with capsys.disabled():
        print(f"\nREADME shell blocks: {len(ran)} ran, {len(skipped)} skipped, {len(failures)} failed")
        for line in skipped:
            print(f"  skipped {line}")
    assert not failures, "\n\n".join(failures)
