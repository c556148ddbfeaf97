"""Attribution runs on demand and at night, one at a time.

Every run of a gateway goes through one ``AttributionRuns``: ``POST /v1/attribution/runs`` (``ga4gw attribution run``
while a gateway owns the data directory) and the nightly job alike. A run asked for while another one runs waits
behind it, in the order asked (an ``asyncio.Lock`` is first-come, first-served): runs write and replace credits of
overlapping windows, and two at once would also compete for the two cores the engine has. Each run gets its own
warehouse connection, so it never holds the pipeline's.

A run's status is ``queued``, ``running`` (with the step it is at), ``done`` (with its counts) or ``failed`` (with
the reason); the last ``keep`` statuses stay in memory (a restart forgets them; the runs themselves are recorded in
the warehouse's ``attribution_runs``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from attribution import MODELS, AttributionError, RunSummary, run_attribution
from gateway.config.domain import attribution_config
from gateway.config.settings import Settings
from gateway.stores.warehouse_link import WarehouseLink
from gateway.telemetry.redaction import redact
from warehouse import Warehouse, WarehouseError

__all__ = ["AttributionRuns", "RunStatus"]

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


@dataclass
class RunStatus:
    """One run asked for: who asked (``api`` or ``nightly``), what for, and how far it got."""

    id: str
    trigger: str
    models: tuple[str, ...]
    since: datetime | None
    until: datetime | None
    requested_at: datetime
    state: str = "queued"
    step: tuple[str, int, int] = ("queued", 0, 1)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    summary: RunSummary | None = None
    error: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def as_json(self) -> dict[str, Any]:
        """The status as ``GET /v1/attribution/runs/{id}`` answers it."""
        answer: dict[str, Any] = {
            "id": self.id,
            "status": self.state,
            "trigger": self.trigger,
            "models": list(self.models),
            "requested_at": _iso(self.requested_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "progress": {"step": self.step[0], "done": self.step[1], "total": self.step[2]},
        }
        if self.summary is not None:
            s = self.summary
            answer.update(run_id=s.run_id, since=_iso(s.since), until=_iso(s.until), conversions=s.conversions,
                          touches=s.touches, seconds=s.seconds, errors=s.errors)  # fmt: skip
        if self.error:
            answer["error"] = self.error
        return answer


class AttributionRuns:
    """The gateway's attribution runs: asked for on the event loop, run in a thread, one at a time."""

    def __init__(
        self, settings: Settings, link: WarehouseLink, *, clock: Callable[[], datetime] = _utcnow, keep: int = 100
    ) -> None:
        self._settings = settings
        self._link = link
        self._clock = clock
        self._keep = keep
        self._lock = asyncio.Lock()
        self._runs: OrderedDict[str, RunStatus] = OrderedDict()
        self._tasks: set[asyncio.Task[RunStatus]] = set()
        self._guard = threading.Lock()  # the progress callback writes a status from the run's thread

    def submit(
        self,
        trigger: str,
        *,
        models: Sequence[str] = MODELS,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> RunStatus:
        """Queue a run and return its status at once (on the event loop); it starts when the one before ends."""
        status = RunStatus(uuid.uuid4().hex[:16], trigger, tuple(models), since, until, self._clock())
        self._runs[status.id] = status
        while len(self._runs) > self._keep:
            oldest = next(iter(self._runs.values()))
            if oldest.state in ("queued", "running"):
                break  # never forget a run someone may still be waiting for
            self._runs.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._run(status))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return status

    def get(self, run_id: str) -> RunStatus | None:
        return self._runs.get(run_id)

    def recent(self) -> list[RunStatus]:
        """The statuses kept, oldest first."""
        return list(self._runs.values())

    async def run(self, trigger: str, **kwargs: Any) -> RunStatus:
        """Queue a run and wait for its end."""
        status = self.submit(trigger, **kwargs)
        await status.done.wait()
        return status

    async def _run(self, status: RunStatus) -> RunStatus:
        try:
            async with self._lock:
                status.state, status.started_at, status.step = "running", self._clock(), ("starting", 0, 1)
                if self._link.warehouse is None:
                    raise WarehouseError("the warehouse is not connected")
                status.summary = await anyio.to_thread.run_sync(self._attribute, status, abandon_on_cancel=True)
                status.state = "done"
                log.info("attribution run %s (%s): %d conversions from %s to %s", status.id, status.trigger,
                         status.summary.conversions, status.summary.since, status.summary.until)  # fmt: skip
        except (WarehouseError, AttributionError) as exc:
            status.state, status.error = "failed", redact(str(exc)) or type(exc).__name__  # texts may quote rows
            log.error("attribution run %s (%s) failed: %s", status.id, status.trigger, status.error)
        except asyncio.CancelledError:
            status.state, status.error = "failed", "the gateway stopped before the run ended"
            raise
        except Exception as exc:  # a run's own bug must not end the gateway's loop, and its status must say so
            status.state, status.error = "failed", f"{type(exc).__name__}: {redact(str(exc))}"
            log.exception("attribution run %s failed", status.id)
        finally:
            status.finished_at = self._clock()
            status.done.set()
        return status

    def _attribute(self, status: RunStatus) -> RunSummary:
        def progress(step: str, done: int, total: int) -> None:
            with self._guard:
                status.step = (step, done, total)

        wh = Warehouse(self._link.target, cluster=self._settings.clickhouse_cluster)
        try:
            return run_attribution(wh, attribution_config(self._settings), models=status.models, since=status.since,
                                   until=status.until, clock=self._clock, progress=progress)  # fmt: skip
        finally:
            wh.close()

    def stop(self) -> None:
        """Cancel the runs still waiting (a run in its thread is left to end with the process)."""
        for task in list(self._tasks):
            task.cancel()
