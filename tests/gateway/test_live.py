"""The foundation end to end: a real gateway process under uvicorn, real clients, the real engine."""

from __future__ import annotations

import signal
from pathlib import Path

import clickhouse_connect
import httpx
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.conftest import LiveGateway, clean_env, run_cli, start_gateway

pytestmark = pytest.mark.live


def _client(gw: LiveGateway, token: str) -> clickhouse_connect.driver.client.Client:
    host, port = gw.url.removeprefix("http://").split(":")
    return clickhouse_connect.get_client(
        host=host, port=int(port), proxy_path="/clickhouse", username="analyst", password=token
    )


def test_health_and_readiness(live_gateway: LiveGateway) -> None:
    assert httpx.get(live_gateway.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(live_gateway.url + "/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["warehouse"]["reachable"] is True
    assert body["warehouse"]["schema_version"] == body["warehouse"]["latest_version"] >= 1


def test_clickhouse_connect_reaches_the_embedded_warehouse(live_gateway: LiveGateway) -> None:
    client = _client(live_gateway, live_gateway.token("sql:read"))
    result = client.query(
        "SELECT {campaign:String} AS campaign, {n:UInt32} * 2 AS doubled, count() AS events FROM events",
        parameters={"campaign": "spring's\tsale\\2026", "n": 21},
    )
    assert result.column_names == ("campaign", "doubled", "events")
    assert result.result_rows == [("spring's\tsale\\2026", 42, 0)]
    tables = {row[0] for row in client.query("SHOW TABLES").result_rows}
    assert {"events", "schema_migrations"} <= tables


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO events (event_id) VALUES ('x')",
        "ALTER TABLE events DELETE WHERE 1",
        "DROP TABLE events",
        "CREATE TABLE intruder (a Int8) ENGINE = Memory",
        "TRUNCATE TABLE events",
        "SELECT 1 SETTINGS readonly = 0",
    ],
)
def test_writes_are_refused(live_gateway: LiveGateway, statement: str) -> None:
    client = _client(live_gateway, live_gateway.token("sql:read"))
    with pytest.raises(DatabaseError, match=r"Code: 164\..*READONLY"):
        client.command(statement)
    assert client.query(
        "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events'"
    ).result_rows == [(1,)]


def test_settings_that_lift_read_only_are_refused(live_gateway: LiveGateway) -> None:
    token = live_gateway.token("sql:read")
    for setting in ("readonly", "allow_ddl"):
        response = httpx.post(
            live_gateway.url + "/clickhouse/", params={setting: "0"}, content=b"SELECT 1", auth=("analyst", token)
        )
        assert response.status_code == 403
        assert response.headers["X-ClickHouse-Exception-Code"] == "164"
        assert f"Cannot modify '{setting}' setting" in response.text


def test_tokens_are_required(live_gateway: LiveGateway) -> None:
    with pytest.raises(DatabaseError, match="516"):
        _client(live_gateway, "not-a-token")
    with pytest.raises(DatabaseError, match="497"):
        _client(live_gateway, live_gateway.token("links:write"))
    anonymous = httpx.post(live_gateway.url + "/clickhouse/", content=b"SELECT 1")
    assert anonymous.status_code == 403
    assert anonymous.headers["X-ClickHouse-Exception-Code"] == "516"


def test_http_interface_speaks_formats_and_errors(live_gateway: LiveGateway) -> None:
    token = live_gateway.token("sql:read")
    post = lambda sql, **params: httpx.post(  # noqa: E731
        live_gateway.url + "/clickhouse/", params=params, content=sql.encode(), auth=("a", token)
    )
    assert post("SELECT 1 AS x FORMAT JSONEachRow").text == '{"x":1}\n'
    assert post("SELECT 1 AS x", default_format="CSVWithNames").text == '"x"\n1\n'
    bad = post("SELECT FROM WHERE")
    assert bad.status_code == 400
    assert bad.headers["X-ClickHouse-Exception-Code"] == "62"
    assert httpx.get(live_gateway.url + "/clickhouse/ping").text == "Ok.\n"


def test_cli_sql_goes_through_the_running_gateway(live_gateway: LiveGateway) -> None:
    result = run_cli("sql", "-v", "SELECT 1", env=live_gateway.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\n"
    assert f"via the gateway at {live_gateway.url}" in result.stderr
    refused = run_cli("sql", "DROP TABLE events", env=live_gateway.env)
    assert refused.returncode == 1
    assert "READONLY" in refused.stderr
    piped = run_cli(
        "sql", "--format", "JSONEachRow", "--param", "n=5", env=live_gateway.env, stdin="SELECT {n:UInt8} + 1 AS six"
    )
    assert piped.stdout == '{"six":6}\n'


def test_cli_sql_opens_the_warehouse_when_no_gateway_runs(tmp_path: Path) -> None:
    env = clean_env(GA4GW_DATA_DIR=str(tmp_path / "data"))
    nothing = run_cli("sql", "-v", "SELECT 1", env=env)  # no warehouse there: none is made to say "no table events"
    assert nothing.returncode == 2
    assert "GA4GW_DATA_DIR" in nothing.stderr
    assert not (tmp_path / "data" / "warehouse").exists()
    migrated = run_cli("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    result = run_cli("sql", "-v", "SELECT 1", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\n"
    assert "opening" in result.stderr
    assert run_cli("sql", "SELECT count() FROM events", env=env).stdout == "0\n"


def test_a_second_gateway_on_the_same_data_dir_is_refused(live_gateway: LiveGateway) -> None:
    result = run_cli("serve", "--port", "0", env=live_gateway.env)
    assert result.returncode == 2
    assert "owns" in result.stderr
    assert "GA4GW_DATA_DIR" in result.stderr


def test_unreachable_server_shows_in_readyz_and_secrets_stay_hidden(tmp_path: Path) -> None:
    secrets = {
        "GA4GW_WAREHOUSE_DSN": "http://default:dsn-pass-789@127.0.0.1:9/shop",
        "GA4GW_SIGNING_KEYS": "s1:" + "signing-secret-" * 3,
        "GA4GW_API_KEYS": "a1:" + "api-secret-xyz-" * 3,
        "GA4GW_GA4_API_SECRET": "mp-secret-000",
    }
    gw = start_gateway(tmp_path / "data", wait_ready=False, **secrets)
    try:
        assert httpx.get(gw.url + "/healthz").status_code == 200
        ready = httpx.get(gw.url + "/readyz")
        assert ready.status_code == 503
        assert ready.json()["warehouse"]["reachable"] is False
        assert ready.json()["warehouse"]["error"]
        token = gw.token("sql:read")
        answer = httpx.post(gw.url + "/clickhouse/", content=b"SELECT 1", auth=("a", token))
        assert answer.headers["X-ClickHouse-Exception-Code"] == "210"
        shown = ready.text + answer.text
    finally:
        gw.stop()
    shown += gw.log()
    for needle in ("dsn-pass-789", "signing-secret-", "api-secret-xyz-", "mp-secret-000"):
        assert needle not in shown


def test_a_graceful_stop_ships_what_the_outbox_holds(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_PIPELINE_MAX_DELAY="60", GA4GW_PIPELINE_BATCH_ROWS="100000")
    token = gw.token("events:write")
    pages = [{"name": "page_view", "client_id": f"{i + 1}.1700000000"} for i in range(30)]
    answer = httpx.post(gw.url + "/v1/events", json={"events": pages}, headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 202
    assert gw.stop() in (0, -signal.SIGTERM)  # long before the pipeline's 60 s delay
    stored = run_cli("sql", "SELECT count() FROM events", env=gw.env)
    assert stored.stdout.strip() == "30", stored.stderr
