"""The gateway's scheduled work: the nightly, incremental attribution run (apscheduler, UTC cron).

Started and stopped by the app's lifespan. The run goes through ``runs.AttributionRuns``, the same queue as the
runs asked for over ``POST /v1/attribution/runs``, so a nightly run and one on demand never run at once; each gets
its own warehouse connection, so a long run never holds the pipeline's connection (whose calls are serialised). It
starts where the previous run ended (see ``attribution.run``). ``GA4GW_ATTRIBUTION_NIGHTLY_AT`` empty turns it off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from attribution import RunSummary
from gateway.config.settings import Settings
from gateway.stores.warehouse_link import WarehouseLink

from .runs import AttributionRuns

__all__ = ["NightlyAttribution"]

log = logging.getLogger(__name__)

JOB_ID = "attribution-nightly"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class NightlyAttribution:
    """Runs attribution every night at ``GA4GW_ATTRIBUTION_NIGHTLY_AT`` (UTC) while the app lives."""

    def __init__(
        self,
        settings: Settings,
        link: WarehouseLink,
        *,
        clock: Callable[[], datetime] = _utcnow,
        runs: AttributionRuns | None = None,
    ) -> None:
        self._settings = settings
        self.runs = runs or AttributionRuns(settings, link, clock=clock)
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
        """One incremental run, queued behind any run under way; None when the warehouse is missing or it failed
        (the reason is logged and in the run's status)."""
        status = await self.runs.run("nightly")
        if status.summary is not None:
            self.last = status.summary
        return status.summary

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
