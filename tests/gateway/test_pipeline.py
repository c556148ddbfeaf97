"""The outbox-to-warehouse pipeline on the real engine, including a warehouse outage and a stop."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.config.settings import load_settings
from gateway.jobs.pipeline import Pipeline
from gateway.stores.outbox import Outbox
from gateway.stores.warehouse_link import WarehouseLink
from gateway.telemetry.metrics import Metrics
from warehouse import EventRow


def _eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _append(outbox: Outbox, count: int) -> None:
    now = datetime.now(UTC)
    rows = [EventRow(uuid.uuid4().hex, now, now, "email_open", "open", campaign_id="c1") for _ in range(count)]

    async def run() -> None:
        assert all(await asyncio.gather(*(outbox.append(r.event_id, r.to_json()) for r in rows)))

    asyncio.run(run())


@pytest.fixture
def flow(chdb_dir: Path, tmp_path: Path) -> Iterator[tuple[Outbox, WarehouseLink, Pipeline, Metrics]]:
    database = f"p_{uuid.uuid4().hex[:10]}"
    settings = load_settings(
        {"GA4GW_DATA_DIR": str(tmp_path), "GA4GW_WAREHOUSE_DSN": f"chdb://{chdb_dir}?database={database}"}
    )
    link = WarehouseLink(settings)
    asyncio.run(link.open())
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    metrics = Metrics()
    pipeline = Pipeline(outbox, link, metrics, batch_rows=50, max_delay=0.2)
    pipeline.start()
    yield outbox, link, pipeline, metrics
    pipeline.stop()
    outbox.close()
    if link.warehouse is not None:
        link.warehouse.command(f"DROP DATABASE IF EXISTS `{database}`")
    link.close()


def _stored(link: WarehouseLink) -> int:
    assert link.warehouse is not None
    return int(link.warehouse.scalar("SELECT count() FROM events FINAL"))


def test_events_reach_the_warehouse(flow: tuple[Outbox, WarehouseLink, Pipeline, Metrics]) -> None:
    outbox, link, pipeline, metrics = flow
    _append(outbox, 120)
    _eventually(lambda: outbox.pending("warehouse") == 0, "the outbox to drain")
    assert _stored(link) == 120
    assert pipeline.state().shipped == 120
    assert metrics.get("ga4gw_warehouse_rows_total") == 120


def test_an_outage_keeps_events_until_the_warehouse_is_back(
    flow: tuple[Outbox, WarehouseLink, Pipeline, Metrics],
) -> None:
    outbox, link, pipeline, metrics = flow
    _append(outbox, 10)
    _eventually(lambda: outbox.pending("warehouse") == 0, "the first events to ship")
    link.close()  # the warehouse goes away
    _append(outbox, 30)
    _eventually(lambda: pipeline.state().last_error != "", "the pipeline to notice")
    assert outbox.pending("warehouse") == 30
    assert "ga4gw_warehouse_up 0" in metrics.render()
    asyncio.run(link.open())  # and comes back
    _eventually(lambda: outbox.pending("warehouse") == 0, "the backlog to drain")
    assert _stored(link) == 40
    assert pipeline.state().last_error == ""


def test_stop_ships_what_is_pending(flow: tuple[Outbox, WarehouseLink, Pipeline, Metrics]) -> None:
    outbox, link, pipeline, _ = flow
    _append(outbox, 7)  # fewer than a batch and younger than max_delay: not due yet
    pipeline.stop()
    assert outbox.pending("warehouse") == 0
    assert _stored(link) == 7


def test_a_row_the_warehouse_refuses_is_quarantined_and_the_rest_ships(
    flow: tuple[Outbox, WarehouseLink, Pipeline, Metrics],
) -> None:
    outbox, link, pipeline, metrics = flow
    now = datetime.now(UTC)
    poison = EventRow("poison", now, now, "purchase", "server", value=Decimal("1E+30"), transaction_id="T-P",
                      url="https://shop.example/?m=ann.q@example.com")  # fmt: skip

    async def run() -> None:
        assert await outbox.append(poison.event_id, poison.to_json())

    _append(outbox, 3)
    asyncio.run(run())
    _append(outbox, 3)
    _eventually(lambda: outbox.pending("warehouse") == 0, "the outbox to drain past the poison row")
    assert _stored(link) == 6
    assert link.warehouse is not None
    assert link.warehouse.rows("SELECT event_id, error_code FROM events_quarantine") == [("poison", 69)]
    assert pipeline.state().quarantined == 1
    assert pipeline.state().shipped == 6
    assert metrics.get("ga4gw_warehouse_quarantined_total") == 1
    assert pipeline.state().last_error == ""


def test_health_reports_a_pipeline_that_stores_nothing_while_events_wait(
    flow: tuple[Outbox, WarehouseLink, Pipeline, Metrics],
) -> None:
    outbox, link, pipeline, _ = flow
    assert pipeline.health(time.time(), 0.5) == ""
    link.close()  # nothing can be stored from now on
    _append(outbox, 5)
    _eventually(lambda: pipeline.state().last_error != "", "the pipeline to notice")
    assert pipeline.state().last_error == "the warehouse is not connected"  # fixed words, no text from elsewhere
    _eventually(lambda: pipeline.health(time.time(), 0.5) != "", "the stall to show")
    assert pipeline.health(time.time(), 0.5) == "the pipeline has not stored a batch for over 0.5 s"
    asyncio.run(link.open())
    _eventually(lambda: pipeline.health(time.time(), 0.5) == "", "the pipeline to recover")
