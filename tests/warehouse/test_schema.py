from __future__ import annotations

from warehouse.ddl import Dialect
from warehouse.schema import EVENTS, MIGRATIONS


def test_single_node_ddl() -> None:
    (ddl,) = Dialect(database="shop").create(EVENTS)
    assert ddl.startswith("CREATE TABLE IF NOT EXISTS `shop`.`events`\n")
    assert "ENGINE = ReplacingMergeTree()" in ddl
    assert "ON CLUSTER" not in ddl
    assert "non_replicated_deduplication_window = 10000" in ddl
    assert "TTL toDateTime(event_time) + toIntervalMonth(14)" in ddl


def test_cluster_ddl_is_replicated_and_distributed() -> None:
    local, distributed = Dialect(database="shop", cluster="prod", retention_months=6).create(EVENTS)
    assert local.startswith("CREATE TABLE IF NOT EXISTS `shop`.`events_local` ON CLUSTER `prod`")
    assert "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/shop/events_local', '{replica}')" in local
    assert "replicated_deduplication_window = 10000" in local
    assert "toIntervalMonth(6)" in local
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS `shop`.`events` ON CLUSTER `prod` AS `shop`.`events_local` "
        "ENGINE = Distributed(`prod`, `shop`, `events_local`, cityHash64(event_id))"
    )


def test_cluster_ttl_change_targets_the_local_table() -> None:
    statement = Dialect(database="shop", cluster="prod", retention_months=3).modify_ttl(EVENTS)
    assert statement == (
        "ALTER TABLE `shop`.`events_local` ON CLUSTER `prod` MODIFY TTL toDateTime(event_time) + toIntervalMonth(3)"
    )


def test_migrations_are_ordered_and_stable() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(set(versions))
    dialect = Dialect()
    assert [m.checksum(dialect) for m in MIGRATIONS] == [m.checksum(dialect) for m in MIGRATIONS]
    assert MIGRATIONS[0].checksum(dialect) != MIGRATIONS[0].checksum(Dialect(cluster="c"))
