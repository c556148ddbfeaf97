from __future__ import annotations

from warehouse import MIGRATIONS, Warehouse, migrate, status


def _tables(wh: Warehouse) -> set[str]:
    return {r[0] for r in wh.rows("SELECT name FROM system.tables WHERE database = {db:String}", {"db": wh.database})}


def test_migrations_apply_once(warehouse: Warehouse) -> None:
    assert not status(warehouse).applied
    first = migrate(warehouse)
    assert first == [m.version for m in MIGRATIONS]
    assert {"events", "schema_migrations"} <= _tables(warehouse)
    assert migrate(warehouse) == []
    assert warehouse.scalar("SELECT count() FROM schema_migrations FINAL") == len(MIGRATIONS)
    state = status(warehouse)
    assert state.up_to_date
    assert state.current == state.latest == MIGRATIONS[-1].version


def test_retention_change_updates_the_ttl(warehouse: Warehouse) -> None:
    migrate(warehouse, retention_months=14)
    query = "SELECT create_table_query FROM system.tables WHERE database = {db:String} AND name = 'events'"
    assert "toIntervalMonth(14)" in warehouse.scalar(query, {"db": warehouse.database})
    migrate(warehouse, retention_months=6)
    assert "toIntervalMonth(6)" in warehouse.scalar(query, {"db": warehouse.database})


def test_events_table_shape(warehouse: Warehouse) -> None:
    migrate(warehouse)
    engine, partition, sorting = warehouse.rows(
        "SELECT engine, partition_key, sorting_key FROM system.tables WHERE database = {db:String} AND name = 'events'",
        {"db": warehouse.database},
    )[0]
    assert engine == "ReplacingMergeTree"
    assert partition == "toYYYYMM(event_time)"
    assert sorting.startswith("campaign_id")
    types = dict(
        warehouse.rows(
            "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'events'",
            {"db": warehouse.database},
        )
    )
    assert types["event_time"] == types["received_at"] == "DateTime64(3, 'UTC')"
    assert types["params"] == "Map(String, String)"
