"""The nightly attribution job: scheduled at the configured UTC time, incremental from run to run."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.config.settings import load_settings
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
