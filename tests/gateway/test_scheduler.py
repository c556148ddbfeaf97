"""The nightly attribution job: scheduled at the configured UTC time, incremental from run to run."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.config.settings import load_settings
from gateway.jobs.runs import AttributionRuns
from gateway.jobs.scheduler import NightlyAttribution
from gateway.stores.warehouse_link import WarehouseLink
from tests.attribution.data import T0, Journey, Touch, insert, journey_events


def test_nightly_run_is_scheduled_and_incremental(chdb_dir: Path, tmp_path: Path) -> None:
    settings = load_settings(
        {
            "GA4GW_DATA_DIR": str(tmp_path),
            "GA4GW_WAREHOUSE_DSN": f"chdb://{chdb_dir}?database=n_{uuid.uuid4().hex[:12]}",
            "GA4GW_ATTRIBUTION_NIGHTLY_AT": "02:15",
        }
    )
    now = [T0 + timedelta(days=20)]

    async def main() -> None:
        link = WarehouseLink(settings)
        await link.open()
        assert link.warehouse is not None
        try:
            insert(
                link.warehouse, journey_events(Journey("a", (Touch("click", 60),), converts_at=T0 + timedelta(days=5)))
            )
            nightly = NightlyAttribution(settings, link, clock=lambda: now[0])
            nightly.start()
            try:
                when = nightly.next_run
                assert when is not None
                assert (when.astimezone(UTC).hour, when.minute) == (2, 15)
                assert timedelta(0) < when - datetime.now(UTC) <= timedelta(days=1)
                first = await nightly.run_once()
                now[0] += timedelta(days=1)
                second = await nightly.run_once()
            finally:
                nightly.stop()
            assert first is not None
            assert second is not None
            assert first.conversions == 1
            assert second.since == first.until - timedelta(days=1)
            assert second.conversions == 0
            assert nightly.next_run is None
        finally:
            link.warehouse.command(f"DROP DATABASE IF EXISTS `{link.warehouse.database}`")
            link.close()

    asyncio.run(main())


def test_empty_time_turns_the_job_off(tmp_path: Path) -> None:
    settings = load_settings({"GA4GW_DATA_DIR": str(tmp_path), "GA4GW_ATTRIBUTION_NIGHTLY_AT": ""})
    nightly = NightlyAttribution(settings, WarehouseLink(settings))
    nightly.start()
    assert nightly.next_run is None


def test_the_nightly_run_waits_behind_a_run_asked_for(chdb_dir: Path, tmp_path: Path) -> None:
    """Issue 15, defect 6: on-demand runs and the nightly one share one queue, so they never overlap."""
    settings = load_settings(
        {
            "GA4GW_DATA_DIR": str(tmp_path),
            "GA4GW_WAREHOUSE_DSN": f"chdb://{chdb_dir}?database=q_{uuid.uuid4().hex[:12]}",
        }
    )

    async def main() -> None:
        link = WarehouseLink(settings)
        await link.open()
        assert link.warehouse is not None
        try:
            insert(
                link.warehouse, journey_events(Journey("a", (Touch("click", 60),), converts_at=T0 + timedelta(days=5)))
            )
            runs = AttributionRuns(settings, link)
            nightly = NightlyAttribution(settings, link, runs=runs)
            asked = runs.submit("api", until=T0 + timedelta(days=10))
            assert asked.state == "queued"
            night = await nightly.run_once()
            assert night is not None
            [first, second] = runs.recent()
            assert (first.trigger, second.trigger) == ("api", "nightly")
            assert (first.state, second.state) == ("done", "done")
            assert first.finished_at is not None
            assert second.started_at is not None
            assert first.finished_at <= second.started_at
            assert first.as_json()["conversions"] == 1
        finally:
            link.warehouse.command(f"DROP DATABASE IF EXISTS `{link.warehouse.database}`")
            link.close()

    asyncio.run(main())
