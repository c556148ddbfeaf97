"""``ga4gw sql`` as an analyst uses it (issue 16): headers, ClickHouse's own text for lists, per-query settings,
errors as ClickHouse said them, and pipes closed early; each through a running gateway and directly."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, LiveGateway, clean_env, run_cli, start_gateway

pytestmark = pytest.mark.live

PIPE_CLOSED = 128 + signal.SIGPIPE


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    gateway = start_gateway(Path(tmp_path_factory.mktemp("sqlcli")) / "data")
    yield gateway
    assert gateway.stop() in (0, -signal.SIGTERM), gateway.log()


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a data directory no gateway owns: ``ga4gw sql`` opens the warehouse itself (once
    ``ga4gw migrate`` made it: the CLI never makes a warehouse where none is, issue 16)."""
    env = clean_env(GA4GW_DATA_DIR=str(tmp_path_factory.mktemp("sqldirect") / "data"))
    made = run_cli("migrate", env=env)
    assert made.returncode == 0, made.stderr
    return env


@pytest.fixture(params=["gateway", "direct"])
def env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "gateway":
        gateway: LiveGateway = request.getfixturevalue("running")
        return gateway.env
    direct_env: dict[str, str] = request.getfixturevalue("direct")
    return direct_env


QUERY = "SELECT ['a', 'b'] AS letters, map('k', 1) AS counts, (1, 'x') AS pair, 'it''s' AS text"


def test_header_on_request_and_off_on_request(env: dict[str, str]) -> None:
    shown = run_cli("sql", "--header", QUERY, env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == "letters\tcounts\tpair\ttext"
    csv = run_cli("sql", "--header", "--format", "CSV", "SELECT 1 AS a", env=env)
    assert csv.stdout == '"a"\n1\n', csv.stderr
    bare = run_cli("sql", "--no-header", QUERY, env=env)
    assert bare.stdout.splitlines() == ["['a','b']\t{'k':1}\t(1,'x')\tit\\'s"]


def test_lists_maps_and_tuples_print_as_clickhouse_text(env: dict[str, str]) -> None:
    result = run_cli("sql", QUERY, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['a','b']\t{'k':1}\t(1,'x')\tit\\'s\n"  # piped: no header by default


def test_a_terminal_gets_a_header_by_default(env: dict[str, str]) -> None:
    main, child = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "gateway", "sql", QUERY],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=subprocess.PIPE,
    ) as proc:
        os.close(child)
        seen = b""
        while True:
            try:
                data = os.read(main, 4096)
            except OSError:  # the child closed the terminal (EIO on Linux)
                break
            if not data:
                break
            seen += data
        os.close(main)
        errors = proc.stderr.read() if proc.stderr else b""
        assert proc.wait(timeout=120) == 0, errors
    assert seen.decode().splitlines()[:2] == ["letters\tcounts\tpair\ttext", "['a','b']\t{'k':1}\t(1,'x')\tit\\'s"]


def test_a_typo_is_a_syntax_error_at_its_first_word(env: dict[str, str]) -> None:
    result = run_cli("sql", "SELEC 1", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("ga4gw: Code: 62. DB::Exception: Syntax error: failed at position 1 (SELEC)")
    assert "formatQuery" not in result.stderr
    assert "readonly" not in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_settings_from_the_allow_list_apply_and_others_are_refused(env: dict[str, str]) -> None:
    seen = run_cli("sql", "--setting", "join_use_nulls=1", "SELECT getSetting('join_use_nulls')", env=env)
    assert seen.stdout == "true\n", seen.stderr
    tight = run_cli(
        "sql", "--setting", "max_rows_to_read=10", "--setting", "max_block_size=1",
        "SELECT count() FROM system.numbers_mt LIMIT 100000", env=env,
    )  # fmt: skip
    assert tight.returncode == 1
    assert "Code: 158" in tight.stderr, tight.stderr
    refused = run_cli("sql", "--setting", "allow_ddl=1", "SELECT 1", env=env)
    assert refused.returncode == 1
    assert "Cannot modify 'allow_ddl' setting" in refused.stderr


def _to_a_closed_pipe(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """Run ``ga4gw`` with its standard output a pipe whose reader has already gone (``| head`` finished)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [("settings", "--markdown"), ("settings",), ("--help",), ("sql", "--help")])
def test_settings_into_a_closed_pipe_ends_quietly(direct: dict[str, str], args: tuple[str, ...]) -> None:
    result = _to_a_closed_pipe(*args, env=direct)
    assert result.stderr == b""
    assert result.returncode == (0 if "--help" in args else PIPE_CLOSED)  # argparse exits 0 after its help


def test_sql_into_a_closed_pipe_ends_quietly(env: dict[str, str]) -> None:
    result = _to_a_closed_pipe("sql", "SELECT number FROM system.numbers LIMIT 200000", env=env)
    assert result.stderr == b""
    assert result.returncode == PIPE_CLOSED


def test_settings_print_lists_as_the_environment_takes_them(direct: dict[str, str]) -> None:
    shown = run_cli("settings", env={**direct, "GA4GW_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8"})
    assert "GA4GW_TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8\n" in shown.stdout
    assert "('" not in shown.stdout
    assert "()" not in shown.stdout
