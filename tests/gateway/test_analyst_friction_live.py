"""Issue 16's analysts' friction, through a real gateway's /clickhouse/, clickhouse-connect and ``ga4gw sql``.

Errors say what ClickHouse said about the query as written; harmless per-query settings pass, limits only go
down; what stays refused (temporary tables, external data, SETTINGS in the SQL) says why.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import httpx
import pytest
from clickhouse_connect import common
from clickhouse_connect.driver.exceptions import DatabaseError
from clickhouse_connect.driver.external import ExternalData

from tests.conftest import LiveGateway, start_gateway

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    gateway = start_gateway(Path(tmp_path_factory.mktemp("friction")) / "data", GA4GW_SQL_MAX_SECONDS="30")
    yield gateway
    assert gateway.stop() in (0, -signal.SIGTERM), gateway.log()


def sql(gw: LiveGateway, query: str, **params: str) -> httpx.Response:
    return httpx.post(
        gw.url + "/clickhouse/", params=params, content=query.encode(), auth=("a", gw.token("sql:read")), timeout=60
    )


def _client(gw: LiveGateway) -> clickhouse_connect.driver.client.Client:
    host, port = gw.url.removeprefix("http://").split(":")
    return clickhouse_connect.get_client(
        host=host, port=int(port), proxy_path="/clickhouse", username="analyst", password=gw.token("sql:read")
    )


def test_a_typo_is_clickhouse_syntax_error_at_its_position(gw: LiveGateway) -> None:
    answer = sql(gw, "SELEC 1")
    assert answer.status_code == 400, answer.text
    assert answer.headers["X-ClickHouse-Exception-Code"] == "62"
    assert answer.text.startswith("Code: 62. DB::Exception: Syntax error: failed at position 1 (SELEC): SELEC 1.")
    assert answer.text.rstrip().endswith("(SYNTAX_ERROR)")
    assert "readonly" not in answer.text.lower()


@pytest.mark.parametrize("query", ["SELEC 1", "SELECT 1 +", "SELECT count() FROM events WHERE"])
def test_errors_quote_only_what_the_analyst_wrote(gw: LiveGateway, query: str) -> None:
    answer = sql(gw, query)
    assert answer.headers["X-ClickHouse-Exception-Code"] == "62", answer.text
    assert "formatQuery" not in answer.text
    assert "FORMAT" not in answer.text


def test_clickhouse_connect_sees_the_syntax_error_not_a_rewriting(gw: LiveGateway) -> None:
    with pytest.raises(DatabaseError) as failed:
        _client(gw).query("SELEC 1")
    message = str(failed.value)
    assert "Code: 62" in message
    assert "SYNTAX_ERROR" in message
    assert "formatQuery" not in message
    assert "readonly" not in message.lower()


def test_a_write_is_named_in_the_readonly_error(gw: LiveGateway) -> None:
    answer = sql(gw, "INSERT INTO events (event_id) VALUES ('x')")
    assert answer.headers["X-ClickHouse-Exception-Code"] == "164"
    assert "INSERT is not a read" in answer.text


def _setting(gw: LiveGateway, name: str, **params: str) -> str:
    answer = sql(gw, f"SELECT getSetting('{name}')", **params)
    assert answer.status_code == 200, answer.text
    return answer.text.strip()


def test_harmless_settings_as_url_parameters_take_effect(gw: LiveGateway) -> None:
    assert _setting(gw, "max_execution_time", max_execution_time="5") == "5"
    assert _setting(gw, "join_use_nulls", join_use_nulls="1") == "true"
    assert _setting(gw, "max_rows_to_read", max_rows_to_read="1000") == "1000"
    assert _setting(gw, "date_time_output_format", date_time_output_format="iso") == "iso"
    joined = sql(
        gw, "SELECT b.y FROM (SELECT 1 AS x) AS a LEFT JOIN (SELECT 2 AS x, 7 AS y) AS b USING x", join_use_nulls="1"
    )
    assert joined.text == "\\N\n"


def test_limits_are_lowered_never_raised(gw: LiveGateway) -> None:
    assert _setting(gw, "max_execution_time", max_execution_time="99999") == "30"
    assert _setting(gw, "max_execution_time") == "30"
    answer = sql(gw, "SELECT count() FROM system.numbers_mt LIMIT 100000", max_rows_to_read="10", max_block_size="1")
    assert answer.headers["X-ClickHouse-Exception-Code"] == "158", answer.text  # TOO_MANY_ROWS


@pytest.mark.parametrize("name", ["readonly", "allow_ddl", "output_format_schema", "log_comment", "max_threads_x"])
def test_other_settings_are_refused_by_name(gw: LiveGateway, name: str) -> None:
    answer = sql(gw, "SELECT 1", **{name: "1"})
    assert answer.headers["X-ClickHouse-Exception-Code"] == "164", answer.text
    assert f"Cannot modify '{name}' setting" in answer.text


def test_settings_in_the_sql_say_where_to_put_them(gw: LiveGateway) -> None:
    answer = sql(gw, "SELECT 1 SETTINGS join_use_nulls = 1")
    assert answer.headers["X-ClickHouse-Exception-Code"] == "497"
    assert "URL parameters" in answer.text
    assert "--setting" in answer.text


def test_clickhouse_connect_sends_allowed_settings(gw: LiveGateway) -> None:
    """clickhouse-connect sees every setting as read-only (readonly = 1) unless told to send them anyway (README)."""
    common.set_setting("invalid_setting_action", "send")
    try:
        client = clickhouse_connect.get_client(
            host=gw.url.removeprefix("http://").split(":")[0],
            port=int(gw.url.rsplit(":", 1)[1]),
            proxy_path="/clickhouse",
            username="analyst",
            password=gw.token("sql:read"),
            settings={"join_use_nulls": 1},
        )
        query = "SELECT getSetting('join_use_nulls'), getSetting('max_execution_time')"
        assert client.query(query, settings={"max_execution_time": 7}).result_rows == [(True, 7)]
        assert client.query(query, settings={"max_execution_time": 999}).result_rows == [(True, 30)]
        with pytest.raises(DatabaseError, match="Cannot modify 'output_format_schema' setting"):
            client.query("SELECT 1", settings={"output_format_schema": "/tmp/schema.capnp"})
    finally:
        common.set_setting("invalid_setting_action", "error")


def test_temporary_tables_are_refused_with_the_reason(gw: LiveGateway) -> None:
    answer = sql(gw, "CREATE TEMPORARY TABLE t AS SELECT 1")
    assert answer.headers["X-ClickHouse-Exception-Code"] == "164"
    assert "temporary tables are not available" in answer.text
    assert "subquery" in answer.text


def test_external_data_is_refused_with_the_reason(gw: LiveGateway) -> None:
    data = ExternalData(file_name="ids", data=b"a\nb\n", structure=["id String"])
    with pytest.raises(DatabaseError, match="external data") as failed:
        _client(gw).query("SELECT count() FROM ids", external_data=data)
    assert "Code: 36" in str(failed.value)


@pytest.mark.parametrize(("query", "params"), [("SELECT 1 FORMAT Nope", {}), ("SELECT 1", {"default_format": "Nope"})])
def test_an_unknown_format_is_said_once(gw: LiveGateway, query: str, params: dict[str, str]) -> None:
    answer = sql(gw, query, **params)
    assert answer.headers["X-ClickHouse-Exception-Code"] == "73", answer.text
    assert answer.text.startswith("Code: 73. DB::Exception: Unknown format Nope.")
    assert answer.text.count("Code: ") == 1
    assert answer.text.rstrip().endswith(". (UNKNOWN_FORMAT)")
