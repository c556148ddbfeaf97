from __future__ import annotations

from pathlib import Path

import pytest

from warehouse import ConfigurationError, QueryError, Warehouse, WarehouseUnavailable, parse_dsn


def test_parse_embedded_dsn(tmp_path: Path) -> None:
    target = parse_dsn("chdb://./var/warehouse", base=tmp_path)
    assert target.embedded
    assert target.path == str(tmp_path / "var" / "warehouse")
    assert target.database == "default"
    assert parse_dsn("chdb:///srv/wh?database=shop").database == "shop"


def test_parse_server_dsn_keeps_the_password_out_of_sight() -> None:
    target = parse_dsn("https://analyst:p%40ss@ch.internal:8443/tracking")
    assert (target.host, target.port, target.database, target.secure) == ("ch.internal", 8443, "tracking", True)
    assert (target.username, target.password) == ("analyst", "p@ss")
    assert "p@ss" not in repr(target)
    assert parse_dsn("http://ch:8123").database == "default"


@pytest.mark.parametrize("dsn", ["mysql://x/y", "chdb://", "http://"])
def test_unusable_dsn(dsn: str) -> None:
    with pytest.raises(ConfigurationError, match="GA4GW_WAREHOUSE_DSN"):
        parse_dsn(dsn)


def test_typed_parameters_round_trip_any_text(warehouse: Warehouse) -> None:
    nasty = "O'Brien \\ \t tab; DROP TABLE x; -- {x:String}"
    rows = warehouse.rows(
        "SELECT {s:String}, {n:UInt64} + 1, {d:DateTime64(3, 'UTC')}",
        {"s": nasty, "n": 41, "d": "2026-01-02 03:04:05.678"},
    )
    assert rows[0][0] == nasty
    assert rows[0][1] == 42
    assert rows[0][2].isoformat().startswith("2026-01-02T03:04:05.678")


def test_raw_output_in_any_format(warehouse: Warehouse) -> None:
    assert warehouse.raw("SELECT 1 AS one") == b"1\n"
    assert warehouse.raw("SELECT 1 AS one", fmt="JSONEachRow") == b'{"one":1}\n'


def test_errors_are_wrapped_with_clickhouse_codes(warehouse: Warehouse) -> None:
    with pytest.raises(QueryError) as syntax:
        warehouse.rows("SELEC 1")
    assert (syntax.value.code, syntax.value.name) == (62, "SYNTAX_ERROR")
    with pytest.raises(QueryError) as missing:
        warehouse.rows("SELECT * FROM no_such_table")
    assert missing.value.name == "UNKNOWN_TABLE"


def test_an_unreachable_server_is_reported_as_unavailable() -> None:
    with pytest.raises(WarehouseUnavailable):
        Warehouse.connect("http://default:pw@127.0.0.1:9/default")


def test_database_is_created_and_used(warehouse: Warehouse) -> None:
    assert warehouse.scalar("SELECT currentDatabase()") == warehouse.database
    assert warehouse.ping()
