from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config.settings import SPECS, load_settings
from gateway.errors import SettingsError
from tests.conftest import ROOT, clean_env, run_cli

KEY = "k1:" + "s" * 40


def test_defaults_need_no_settings() -> None:
    settings = load_settings({})
    assert settings.data_dir == ROOT / "var"  # the checkout's, wherever the command runs (test_cli_place.py)
    assert settings.dsn == f"chdb://{ROOT / 'var' / 'warehouse'}"
    assert settings.port == 8080
    assert settings.clickhouse_cluster == ""
    assert settings.retention_months == 14
    assert settings.ga4_dry_run


def test_environment_and_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "ga4gw.toml"
    config.write_text('data_dir = "/srv/ga4gw"\nport = 9000\nclickhouse_cluster = "main"\n')
    settings = load_settings({"GA4GW_CONFIG": str(config), "GA4GW_PORT": "9100"})
    assert settings.data_dir == Path("/srv/ga4gw")
    assert settings.port == 9100  # the environment wins over the file
    assert settings.clickhouse_cluster == "main"
    assert settings.dsn == "chdb:///srv/ga4gw/warehouse"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("GA4GW_PORT", "eighty", "a port number"),
        ("GA4GW_PORT", "70000", "0 to 65535"),
        ("GA4GW_RETENTION_MONTHS", "0", "1 to 120"),
        ("GA4GW_PUBLIC_URL", "t.shop.example", "an http(s) URL"),
        ("GA4GW_WAREHOUSE_DSN", "mysql://x", "chdb://PATH"),
        ("GA4GW_CLICKHOUSE_CLUSTER", "a b", "a cluster name"),
        ("GA4GW_GA4_MEASUREMENT_ID", "UA-1234", "G-XXXXXXXXXX"),
        ("GA4GW_SIGNING_KEYS", "k1:short", "32+ characters"),
        ("GA4GW_API_KEYS", f"{KEY},{KEY}", "appears twice"),
        ("GA4GW_LOG_LEVEL", "loud", "debug, info"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert caught.value.variable == variable
    assert expected in str(caught.value)


def test_toml_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("no_such_setting = 1\n")
    with pytest.raises(SettingsError, match="unknown setting 'no_such_setting'"):
        load_settings({"GA4GW_CONFIG": str(bad)})
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings({"GA4GW_CONFIG": str(tmp_path / "missing.toml")})


def test_secrets_never_show() -> None:
    secret = "k9:" + "verysecretvalue" * 3
    settings = load_settings(
        {
            "GA4GW_SIGNING_KEYS": secret,
            "GA4GW_API_KEYS": secret,
            "GA4GW_GA4_API_SECRET": "mp-secret-123",
            "GA4GW_WAREHOUSE_DSN": "http://u:dsn-password@db:8123/x",
        }
    )
    shown = repr(settings) + str(settings)
    for value in ("verysecretvalue", "mp-secret-123", "dsn-password"):
        assert value not in shown
    assert str(settings.ga4_api_secret) == "mp-secret-123"
    with pytest.raises(SettingsError) as caught:
        load_settings({"GA4GW_SIGNING_KEYS": "k1:tooshortsecret"})
    assert "tooshortsecret" not in str(caught.value)


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    table = set(re.findall(r"^\| `(GA4GW_[A-Z0-9_]+)` \|", readme, re.M))
    declared = {spec.env for spec in SPECS} | {"GA4GW_CONFIG"}
    assert declared - table == set(), "settings missing from the README's table"
    assert table - declared == set(), "the README lists settings that do not exist"


def test_cli_rejects_a_bad_setting_with_its_name(tmp_path: Path) -> None:
    result = run_cli("settings", env=clean_env(GA4GW_DATA_DIR=str(tmp_path), GA4GW_PORT="x"))
    assert result.returncode == 2
    assert "GA4GW_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_settings_masks_secrets(tmp_path: Path) -> None:
    env = clean_env(GA4GW_DATA_DIR=str(tmp_path), GA4GW_GA4_API_SECRET="mp-secret-456")
    result = run_cli("settings", env=env)
    assert result.returncode == 0, result.stderr
    assert "GA4GW_GA4_API_SECRET=(set)" in result.stdout
    assert "mp-secret-456" not in result.stdout + result.stderr
