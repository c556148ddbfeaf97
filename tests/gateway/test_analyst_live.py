"""Issue 11's attacks on the analyst SQL interface, through a real gateway, real clients and the real engine."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import clickhouse_connect
import httpx
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.conftest import LiveGateway, run_cli, start_gateway
from tests.gateway.ga4.test_relay_live import HUMAN_UA

pytestmark = pytest.mark.live

# One row a second, so a query runs for minutes without using the CPU; max_block_size=1 is a URL setting.
SLOW = "SELECT number, sleepEachRow(1) FROM system.numbers LIMIT 600"


def sql(gw: LiveGateway, query: str, *, timeout: float = 60, **params: str) -> httpx.Response:
    return httpx.post(
        gw.url + "/clickhouse/",
        params=params,
        content=query.encode(),
        auth=("a", gw.token("sql:read")),
        timeout=timeout,
    )


def refused(answer: httpx.Response, code: int = 497) -> str:
    assert answer.status_code in (400, 403), answer.text
    assert answer.headers["X-ClickHouse-Exception-Code"] == str(code), answer.text
    assert answer.text.startswith(f"Code: {code}. DB::Exception: gateway: ")
    return answer.text


def _client(gw: LiveGateway) -> clickhouse_connect.driver.client.Client:
    host, port = gw.url.removeprefix("http://").split(":")
    return clickhouse_connect.get_client(
        host=host, port=int(port), proxy_path="/clickhouse", username="analyst", password=gw.token("sql:read")
    )


@pytest.mark.parametrize("how", ["post", "get", "default_format"])
def test_into_outfile_cannot_overwrite_the_keys(live_gateway: LiveGateway, how: str) -> None:
    keys = live_gateway.data_dir / "keys.json"
    before = keys.read_bytes()
    into = f"SELECT '{{\"forged\": 1}}' INTO OUTFILE '{keys}' TRUNCATE"
    if how == "get":
        token = live_gateway.token("sql:read")
        answer = httpx.get(
            live_gateway.url + "/clickhouse/", params={"query": into + " FORMAT RawBLOB"}, auth=("a", token)
        )
    elif how == "default_format":  # the format once came from the URL and was pasted after the SQL
        answer = sql(live_gateway, into, default_format="RawBLOB")
    else:
        answer = sql(live_gateway, into + " FORMAT RawBLOB")
    assert "INTO OUTFILE" in refused(answer)
    assert keys.read_bytes() == before
    pasted = sql(live_gateway, "SELECT 1", default_format=f"RawBLOB INTO OUTFILE '{keys}'")
    assert "default_format" in refused(pasted, 73)
    assert keys.read_bytes() == before
    assert sql(live_gateway, "SELECT 1").text == "1\n"  # the gateway's own keys still work


def test_describe_of_a_file_never_quotes_the_signing_keys(live_gateway: LiveGateway) -> None:
    keys = live_gateway.data_dir / "keys.json"
    secrets = [value for value in _strings(json.loads(keys.read_text())) if len(value) >= 16]
    assert secrets
    for query in (
        f"DESCRIBE TABLE file('{keys}', 'Values')",
        f"DESC file('{keys}', 'JSONEachRow')",
        f"SELECT * FROM file('{keys}', 'RawBLOB')",
        f"SELECT * FROM (SELECT * FROM file('{keys}', 'LineAsString'))",
        f"SELECT file('{keys}')",
    ):
        shown = refused(sql(live_gateway, query))
        assert not any(secret[:12] in shown for secret in secrets)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class Listener:
    """A local TCP port that counts who connects (an outbound request from the engine would)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.sock.close()


OUTBOUND = [
    "SELECT * FROM url('http://127.0.0.1:{port}/', 'LineAsString', headers('X-Secret' = 'from-analyst'))",
    "DESCRIBE TABLE s3('http://127.0.0.1:{port}/bucket/key.csv', 'CSV')",
    "SELECT * FROM remote('127.0.0.1:{port}', system.one)",
    "SELECT * FROM mysql('127.0.0.1:{port}', 'db', 'table', 'user', 'password')",
    "SELECT * FROM postgresql('127.0.0.1:{port}', 'db', 'table', 'user', 'password')",
    "SELECT count() FROM events WHERE event_id IN (SELECT * FROM url('http://127.0.0.1:{port}/', 'LineAsString'))",
    "SELECT 1 FROM events AS e JOIN url('http://127.0.0.1:{port}/', 'CSV', 'a String') AS u ON 1",
    "DESCRIBE (SELECT * FROM url('http://127.0.0.1:{port}/', 'LineAsString'))",
]


@pytest.mark.parametrize("query", OUTBOUND)
def test_table_functions_reach_no_host(live_gateway: LiveGateway, listener: Listener, query: str) -> None:
    answer = sql(live_gateway, query.format(port=listener.port))
    assert "table function" in refused(answer)
    assert listener.accepted == 0


def test_sqlite_on_the_outbox_is_refused_and_acknowledged_clicks_survive_a_crash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    gw = start_gateway(data, GA4GW_PIPELINE_MAX_DELAY="600", GA4GW_PIPELINE_BATCH_ROWS="100000")
    try:
        pages = [{"name": "page_view", "client_id": f"{i + 1}.1700000000"} for i in range(25)]
        answer = httpx.post(
            gw.url + "/v1/events",
            json={"events": pages},
            headers={"authorization": f"Bearer {gw.token('events:write')}"},
        )
        assert answer.status_code == 202
        outbox = data / "outbox.sqlite3"
        for query in (
            f"DESCRIBE TABLE sqlite('{outbox}', 'outbox')",
            f"SELECT count() FROM sqlite('{outbox}', 'outbox')",
        ):
            assert "sqlite()" in refused(sql(gw, query))
        assert Path(f"{outbox}-wal").exists()
        assert Path(f"{outbox}-shm").exists()
    finally:
        gw.proc.kill()  # a crash: nothing is shipped on the way out
        gw.proc.wait()
    pending = sqlite3.connect(outbox).execute("SELECT count() FROM outbox").fetchone()[0]
    assert pending == 25
    (data / "run" / "gateway.json").unlink()  # the crashed process's; the helper would read its address
    again = start_gateway(data)
    try:
        deadline = time.monotonic() + 60
        while sql(again, "SELECT count() FROM events").text != "25\n" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sql(again, "SELECT count() FROM events").text == "25\n"
    finally:
        again.stop()


def test_memory_and_result_size_are_capped_and_clients_cannot_raise_them(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_SQL_MAX_RESULT_BYTES="1000000", GA4GW_SQL_MAX_MEMORY="30000000")
    try:
        big = sql(gw, "SELECT number FROM system.numbers LIMIT 10000000", max_result_bytes="100000000000")
        assert "TOO_MANY_ROWS_OR_BYTES" in big.text
        assert big.text.count("\n") < 500_000
        hungry = sql(
            gw,
            "SELECT k, count() FROM (SELECT number % 5000000 AS k FROM system.numbers LIMIT 50000000) GROUP BY k",
            max_memory_usage="100000000000",
        )
        assert hungry.headers["X-ClickHouse-Exception-Code"] == "241"
        assert "MEMORY_LIMIT_EXCEEDED" in hungry.text
        assert sql(gw, "SELECT 1", max_result_bytes="500").text == "1\n"
    finally:
        gw.stop()


def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) * 1024


def test_results_stream_instead_of_being_held_whole(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_SQL_MAX_RESULT_BYTES="0", GA4GW_SQL_MAX_RESULT_ROWS="0")
    try:
        before = peak = _rss(gw.proc.pid)
        received = 0
        query = "SELECT number, repeat('x', 100) FROM system.numbers LIMIT 4000000"
        with httpx.stream(
            "POST", gw.url + "/clickhouse/", content=query.encode(), auth=("a", gw.token("sql:read")), timeout=120
        ) as answer:
            assert answer.status_code == 200
            for number, chunk in enumerate(answer.iter_bytes()):
                received += len(chunk)
                if number % 50 == 0:
                    peak = max(peak, _rss(gw.proc.pid))
        assert received > 400_000_000
        assert peak - before < 200_000_000  # holding the result whole would take more than 400 MB
    finally:
        gw.stop()


def _slow_stream(gw: LiveGateway, client: httpx.Client) -> httpx.Response:
    """Start SLOW on ``client``; its first row shows it runs."""
    request = client.build_request(
        "POST", gw.url + "/clickhouse/", params={"max_block_size": "1"}, content=SLOW.encode()
    )
    answer = client.send(request, stream=True)
    assert answer.status_code == 200, answer.read()
    return answer


def _links(gw: LiveGateway) -> str:
    body = {"campaign": "c1", "sent_at": int(time.time()) - 60, "urls": ["https://shop.example/"], "recipient": "r-1"}
    made = httpx.post(gw.url + "/v1/links", json=body, headers={"authorization": f"Bearer {gw.token('links:write')}"})
    assert made.status_code == 200, made.text
    tracked: str = made.json()["links"][0]["tracked"]
    return gw.url + "/c/" + tracked.split("/c/", 1)[1]


def test_busy_analysts_get_503_and_never_hold_up_readiness_erasure_or_clicks(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_SQL_CONCURRENCY="1", GA4GW_SQL_QUEUE="1", GA4GW_SQL_MAX_SECONDS="900")
    pool = ThreadPoolExecutor(2)
    client = httpx.Client(timeout=600, auth=("a", gw.token("sql:read")))
    try:
        running = _slow_stream(gw, client)
        click_url = _links(gw)
        erase_token = gw.token("erasure:write")
        lines = running.iter_lines()
        assert next(lines).startswith("0\t")
        waiting: list[Future[httpx.Response]] = [
            pool.submit(sql, gw, SLOW, timeout=600, max_block_size="1") for _ in range(2)
        ]
        done, pending = wait(waiting, timeout=60, return_when=FIRST_COMPLETED)
        assert len(done) == 1  # one waits in the queue, the other is turned away
        busy = done.pop().result()
        assert busy.status_code == 503
        assert busy.headers["X-ClickHouse-Exception-Code"] == "202"
        assert "TOO_MANY_SIMULTANEOUS_QUERIES" in busy.text

        assert httpx.get(gw.url + "/readyz", timeout=60).status_code == 200
        erased = httpx.post(
            gw.url + "/v1/erasure",
            json={"email": "someone@example.com", "reason": "test"},
            headers={"authorization": f"Bearer {erase_token}"},
            timeout=120,
        )
        assert erased.status_code == 200, erased.text
        click = httpx.get(click_url, headers={"user-agent": HUMAN_UA, "accept": "text/html"}, timeout=60)
        assert click.status_code == 302

        assert next(lines).startswith("1\t")  # the analyst query still runs
        assert not pending.pop().done()  # and the queued one still waits
        assert gw.stop() in (0, -signal.SIGTERM), gw.log()  # SIGTERM waits for neither
    finally:
        gw.stop()
        client.close()
        pool.shutdown(wait=False, cancel_futures=True)
    assert "Application shutdown complete" in gw.log()


def test_a_client_that_goes_away_frees_its_slot(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_SQL_CONCURRENCY="1", GA4GW_SQL_QUEUE="0", GA4GW_SQL_MAX_SECONDS="900")
    try:
        host, port = gw.url.removeprefix("http://").split(":")
        body = (SLOW + " FORMAT Null").encode()  # no row comes before the end: the query is stuck in the engine
        token = gw.token("sql:read")
        head = (
            f"POST /clickhouse/?max_block_size=1 HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection((host, int(port))) as conn:
            conn.sendall(head + body)
            deadline = time.monotonic() + 30
            while sql(gw, "SELECT 1").status_code != 503 and time.monotonic() < deadline:
                time.sleep(0.1)  # until the slow query holds the only slot
            assert sql(gw, "SELECT 1").status_code == 503
        deadline = time.monotonic() + 60
        while (answer := sql(gw, "SELECT 1")).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert answer.text == "1\n"
    finally:
        assert gw.stop() in (0, -signal.SIGTERM)


def test_sigterm_does_not_wait_for_analyst_queries(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", GA4GW_SQL_MAX_SECONDS="900")
    client = httpx.Client(timeout=600, auth=("a", gw.token("sql:read")))
    try:
        running = _slow_stream(gw, client)
        assert next(running.iter_lines()).startswith("0\t")
        assert gw.stop() in (0, -signal.SIGTERM), gw.log()  # stop() kills after 30 s: a hang fails here
    finally:
        gw.stop()
        client.close()
    assert "Application shutdown complete" in gw.log()


def test_query_id_and_credentials_in_the_url(live_gateway: LiveGateway) -> None:
    url = live_gateway.url + "/clickhouse/"
    odd = httpx.post(url, params={"query_id": "é-\u2603"}, content=b"SELECT 1")
    assert odd.status_code == 400
    assert odd.headers["X-ClickHouse-Exception-Code"] == "36"
    assert "query_id" in odd.text
    token = live_gateway.token("sql:read")
    in_url = httpx.post(url, params={"password": token}, content=b"SELECT 1")
    assert "basic auth password" in refused(in_url, 36)
    assert "X-ClickHouse-Key" in in_url.text
    assert token not in in_url.text
    keyed = httpx.post(url, headers={"X-ClickHouse-Key": token}, content=b"SELECT 1", params={"query_id": "q-1"})
    assert keyed.text == "1\n"
    assert keyed.headers["X-ClickHouse-Query-Id"] == "q-1"


@pytest.mark.parametrize(
    "query",
    [
        "SELECT hostName()",
        "SELECT fqdn()",
        "SELECT uptime()",
        "SELECT getMacro('replica')",
        "SELECT * FROM system.build_options",
        "SELECT * FROM system.disks",
        "SELECT * FROM system.processes",
        "SELECT * FROM system.query_log",
        "SELECT * FROM system.text_log",
        "SELECT * FROM system.mutations",
        "SELECT * FROM system.asynchronous_metrics",
        "SELECT * FROM system.tables",
        "SELECT name, data_paths FROM system.tables",
        "SELECT metadata_path FROM system.databases",
        "SELECT * FROM system.users",
        "SELECT * FROM elsewhere.anything",
        "SELECT * FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE",
        "SHOW GRANTS",
    ],
)
def test_analysts_see_nothing_of_the_host(live_gateway: LiveGateway, query: str) -> None:
    refused(sql(live_gateway, query))


def test_what_clients_read_on_connecting_and_browsing_still_works(live_gateway: LiveGateway) -> None:
    client = _client(live_gateway)  # reads version(), timezone() and system.settings
    assert {"events", "schema_migrations"} <= {row[0] for row in client.query("SHOW TABLES").result_rows}
    listed = client.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()").result_rows
    assert any(name == "events" for name, _ in listed)
    assert client.query("SELECT count() FROM (SELECT number FROM system.numbers LIMIT 1000000)").result_rows == [
        (1000000,)
    ]
    numbers = client.query("SELECT number FROM system.numbers LIMIT 300000").result_rows
    assert len(numbers) == 300000
    assert numbers[-1] == (299999,)
    assert client.query("DESCRIBE TABLE events").result_rows[0][0]
    with pytest.raises(DatabaseError, match="497"):
        client.query("SELECT * FROM file('/etc/passwd', 'LineAsString')")


def test_cli_sql_is_checked_the_same_way_with_and_without_a_gateway(live_gateway: LiveGateway, tmp_path: Path) -> None:
    through = run_cli("sql", "SELECT * FROM file('/etc/passwd', 'LineAsString')", env=live_gateway.env)
    assert through.returncode == 1
    assert "table function file()" in through.stderr
    assert "root:" not in through.stdout
    alone = dict(live_gateway.env, GA4GW_DATA_DIR=str(tmp_path / "alone"))
    assert run_cli("migrate", env=alone).returncode == 0  # a warehouse of its own, which sql never creates
    direct = run_cli("sql", "SELECT * FROM file('/etc/passwd', 'LineAsString')", env=alone)
    assert direct.returncode == 1
    assert "table function file()" in direct.stderr
    assert "root:" not in direct.stdout
