"""Analyst queries on the real engine: what the policy lets through, what it refuses, limits, streaming, kill."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from warehouse import QueryError, QueryRefused, Warehouse
from warehouse.analyst import Analyst, escape_value, unescape_value


@pytest.fixture
def analyst(warehouse: Warehouse) -> Iterator[Analyst]:
    warehouse.command("CREATE TABLE events (event_id String, value Float64) ENGINE = MergeTree ORDER BY event_id")
    warehouse.command("CREATE VIEW clicks AS SELECT event_id FROM events")
    warehouse.command("INSERT INTO events VALUES ('a', 1), ('b', 2)")
    engine = Analyst(warehouse.target)
    yield engine
    engine.close()


def run(analyst: Analyst, sql: str, params: dict[str, str] | None = None, **settings: object) -> bytes:
    checked = analyst.prepare(sql, params or {})
    return b"".join(analyst.execute(checked, params or {}, settings, checked.fmt or "TSV", "test"))


ALLOWED = [
    ("SELECT event_id FROM events ORDER BY event_id", b"a\nb\n"),
    ("WITH e AS (SELECT value FROM events) SELECT sum(value) FROM e", b"3\n"),
    ("SELECT count() FROM clicks AS c JOIN events AS e USING event_id WHERE e.value IN (SELECT 1)", b"1\n"),
    ("SELECT count() FROM events FORMAT JSONEachRow", b'{"count()":2}\n'),
    ("/* a comment */ SELECT 1;", b"1\n"),
    ("SHOW TABLES", b"clicks\nevents\n"),
    ("EXISTS TABLE events", b"1\n"),
    ("SELECT version() != '', timezone() != ''", b"1\t1\n"),
    ("SELECT count() > 0 FROM system.settings WHERE name = 'readonly'", b"1\n"),
    ("SELECT * FROM system.one", b"0\n"),
    ("SELECT 3 IN range(5), 7 NOT IN (1, 2)", b"1\t1\n"),
    ("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name", b"clicks\nevents\n"),
]


@pytest.mark.parametrize(("sql", "output"), ALLOWED)
def test_reads_of_the_gateways_tables_run(analyst: Analyst, sql: str, output: bytes) -> None:
    assert run(analyst, sql) == output


def test_describe_explain_show_create_and_columns(analyst: Analyst) -> None:
    assert run(analyst, "DESCRIBE TABLE events").startswith(b"event_id\tString")
    assert run(analyst, f"SHOW CREATE TABLE {analyst.database}.events").startswith(b"CREATE TABLE")
    assert b"ReadFromMergeTree" in run(analyst, "EXPLAIN SELECT * FROM events")
    assert run(analyst, "SHOW COLUMNS FROM events").startswith(b"event_id")
    assert run(analyst, "DESCRIBE (SELECT 1 AS x)").startswith(b"x\tUInt8")


REFUSED = [
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT 1 INTO OUTFILE '/tmp/ga4gw-outfile' TRUNCATE FORMAT RawBLOB",
    "DESCRIBE TABLE file('keys.json', 'Values')",
    "DESCRIBE TABLE s3('http://127.0.0.1:9/x', 'CSV')",
    "SELECT * FROM events WHERE event_id IN (SELECT * FROM url('http://127.0.0.1:9/', 'CSV', 'a String'))",
    "SELECT * FROM events AS e JOIN remote('127.0.0.1:9', system.one) AS r ON 1",
    "SELECT * FROM mysql('127.0.0.1:9', 'd', 't', 'u', 'p')",
    "SELECT * FROM postgresql('127.0.0.1:9', 'd', 't', 'u', 'p')",
    "SELECT * FROM sqlite('outbox.sqlite3', 'outbox')",
    "SELECT * FROM numbers(10)",
    "SELECT 1 SETTINGS max_threads = 1",
    "SELECT hostName()",
    "SELECT fqdn(), uptime()",
    "SELECT getMacro('replica')",
    "SELECT getServerSetting('path')",
    "SELECT file('/etc/hostname')",
    "SELECT dictGet('d', 'a', toUInt64(1))",
    "SELECT * FROM system.processes",
    "SELECT * FROM system.build_options",
    "SELECT * FROM system.mutations",
    "SELECT * FROM system.tables",
    "SELECT metadata_path FROM system.tables",
    "SELECT * FROM default.anything",
    "SELECT 1 WHERE 1 IN system.users",
    "SELECT 1 WHERE 1 IN url('http://127.0.0.1:9/', 'CSV', 'a UInt8')",
    "SHOW TABLES FROM system",
    "SHOW CLUSTERS",
    "SHOW CREATE TABLE system.users",
    "SHOW PROCESSLIST",
    "SELECT * FROM {t:Identifier}",
    "SELECT `a\n      Function file` FROM events",
    "EXPLAIN SELECT * FROM file('/etc/passwd')",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_escapes_are_refused_before_they_run(analyst: Analyst, sql: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        analyst.prepare(sql, {"t": "system.users"})
    assert refused.value.code in (62, 497)
    assert "gateway: " in refused.value.message


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO events VALUES ('x', 1)",
        "DROP TABLE events",
        "ALTER TABLE events DELETE WHERE 1",
        "SYSTEM FLUSH LOGS",
    ],
)
def test_writes_are_refused_as_read_only(analyst: Analyst, sql: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        analyst.prepare(sql, {})
    assert (refused.value.code, refused.value.name) == (164, "READONLY")


def test_a_second_statement_is_refused_and_never_runs(analyst: Analyst, warehouse: Warehouse) -> None:
    with pytest.raises(QueryError, match="Multi-statements"):
        analyst.prepare("SELECT 1; DROP TABLE events", {})
    assert warehouse.scalar("SELECT count() FROM events") == 2


def test_settings_in_the_sql_cannot_lift_read_only(analyst: Analyst) -> None:
    with pytest.raises(QueryError) as refused:
        analyst.prepare("SELECT 1 SETTINGS readonly = 0", {})
    assert refused.value.code in (164, 497)


def test_parameters_are_bound_in_the_engines_escaped_form(analyst: Analyst) -> None:
    value = "spring's\tsale\\2026\n"
    assert unescape_value(escape_value(value)) == value
    out = run(analyst, "SELECT {v:String} AS v FORMAT RawBLOB", {"v": escape_value(value)})
    assert out == value.encode()
    assert run(analyst, "SELECT count() FROM {t:Identifier}", {"t": "events"}) == b"2\n"


def test_limits_hold_and_results_come_in_blocks(analyst: Analyst) -> None:
    with pytest.raises(QueryError) as big:
        run(analyst, "SELECT number FROM system.numbers LIMIT 10000000", max_result_bytes=1_000_000)
    assert big.value.name == "TOO_MANY_ROWS_OR_BYTES"
    with pytest.raises(QueryError) as hungry:
        run(
            analyst,
            "SELECT k, count() FROM (SELECT number % 3000000 AS k FROM system.numbers LIMIT 30000000) GROUP BY k "
            "FORMAT Null",
            max_memory_usage=20_000_000,
        )
    assert hungry.value.name == "MEMORY_LIMIT_EXCEEDED"
    checked = analyst.prepare("SELECT number FROM system.numbers LIMIT 3000000", {})
    chunks = list(analyst.execute(checked, {}, {"max_block_size": 65536}, "TSV", "blocks"))
    assert len(chunks) > 10
    assert b"".join(chunks).count(b"\n") == 3_000_000


def test_a_running_query_is_killed_by_its_tag(analyst: Analyst) -> None:
    checked = analyst.prepare("SELECT sleepEachRow(1) FROM system.numbers LIMIT 600 FORMAT Null", {})
    outcome: list[QueryError] = []

    def slow() -> None:
        try:
            list(analyst.execute(checked, {}, {"max_block_size": 1}, "TSV", "to-kill"))
        except QueryError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    while thread.is_alive() and not outcome:
        analyst.kill("to-kill")
        thread.join(0.2)
    thread.join(30)
    assert not thread.is_alive()
    assert outcome
    assert outcome[0].name == "QUERY_WAS_CANCELLED"
