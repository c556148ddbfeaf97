"""The gateway's scheduled work: the nightly, incremental attribution run (apscheduler, UTC cron).

Started and stopped by the app's lifespan. The run gets its own warehouse connection, so a long run never holds
the pipeline's connection (whose calls are serialised); it starts where the previous run ended (see
``attribution.run``). ``GA4GW_ATTRIBUTION_NIGHTLY_AT`` empty turns it off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import anyio.to_thread
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from attribution import AttributionError, RunSummary, run_attribution
from gateway.config.domain import attribution_config
from gateway.config.settings import Settings
from gateway.stores.warehouse_link import WarehouseLink
from warehouse import Warehouse, WarehouseError

__all__ = ["NightlyAttribution"]

log = logging.getLogger(__name__)

JOB_ID = "attribution-nightly"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class NightlyAttribution:
    """Runs attribution every night at ``GA4GW_ATTRIBUTION_NIGHTLY_AT`` (UTC) while the app lives."""

    def __init__(self, settings: Settings, link: WarehouseLink, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._settings = settings
        self._link = link
        self._clock = clock
        self._scheduler: AsyncIOScheduler | None = None
        self.last: RunSummary | None = None

    def start(self) -> None:
        """Schedule the nightly job (needs the running event loop); nothing when the setting is empty."""
        at = self._settings.attribution_nightly_at
        if not at:
            return
        hour, minute = (int(part) for part in at.split(":"))
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.run_once,
            CronTrigger(hour=hour, minute=minute, timezone=UTC),
            id=JOB_ID,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
        scheduler.start()
        self._scheduler = scheduler

    @property
    def next_run(self) -> datetime | None:
        """When the job fires next (None when not scheduled)."""
        job = self._scheduler.get_job(JOB_ID) if self._scheduler else None
        when: datetime | None = job.next_run_time if job else None
        return when

    async def run_once(self) -> RunSummary | None:
        """One incremental run now; logs and returns None when the warehouse is missing or the run fails."""
        if self._link.warehouse is None:
            log.warning("nightly attribution skipped: the warehouse is not connected")
            return None
        try:
            self.last = await anyio.to_thread.run_sync(self._run)
        except (WarehouseError, AttributionError) as exc:
            log.error("nightly attribution failed: %s", exc)
            return None
        log.info(
            "nightly attribution: %d conversions from %s to %s", self.last.conversions, self.last.since, self.last.until
        )
        return self.last

    def _run(self) -> RunSummary:
        wh = Warehouse(self._link.target, cluster=self._settings.clickhouse_cluster)
        try:
            return run_attribution(wh, attribution_config(self._settings), clock=self._clock)
        finally:
            wh.close()

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
