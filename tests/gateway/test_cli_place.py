"""Where the CLI finds the gateway when nothing says: the checkout's ``var``, not the current directory; and a
command other than ``ga4gw serve`` never makes keys or stores where no gateway lives (issue 16, found 3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config.settings import load_settings
from tests.conftest import ROOT, clean_env, run_cli


def test_the_data_directory_is_the_checkouts_wherever_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings({}).data_dir == ROOT / "var"
    # The command run from another directory, as an operator would: the same place, not ./var of that directory.
    shown = subprocess.run(
        [sys.executable, "-m", "gateway", "settings"], env=clean_env(PYTHONPATH=str(ROOT)), cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert f"GA4GW_DATA_DIR={ROOT / 'var'}\n" in shown.stdout
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    "command",
    [
        ("token", "issue", "--scope", "links:write"),
        ("ga4", "secret", "issue", "--name", "shop"),
        ("links", "sign", "--campaign", "c1", "--recipient", "sub-1", "https://shop.example/"),
        ("sql", "SELECT count() FROM events"),
        ("token", "revoke", "abcdefgh12345678"),
        ("ga4", "status"),
        ("identity", "explain", "email:jane@example.com"),
        ("attribution", "run", "-q"),
        ("erase", "--identifier", "recipient:sub-1", "--yes"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_no_command_but_serve_makes_keys_or_stores_where_no_gateway_lives(tmp_path: Path, command: tuple[str]) -> None:
    nowhere = tmp_path / "nowhere"
    result = run_cli(*command, env=clean_env(GA4GW_DATA_DIR=str(nowhere)))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "GA4GW_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr
    assert "jane" not in result.stderr
    made = sorted(p.name for p in nowhere.rglob("*")) if nowhere.exists() else []
    assert made == [], f"{' '.join(command)} made {made} in a directory no gateway ever ran on"
