"""Fixtures for the relay: a real outbox, a real ledger, a real MP stand-in over HTTP, a movable clock."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consent import ConsentPolicy
from gateway.ga4.ledger import Ledger
from gateway.ga4.payloads import PayloadBuilder
from gateway.ga4.relay import Relay, RelayConfig
from gateway.ga4.standin import StandIn
from gateway.state.consent_link import ConsentLink
from gateway.stores.outbox import Outbox
from gateway.telemetry.metrics import Metrics
from identity import Pseudonymizer
from warehouse import EventRow

PSEUDONYMS = Pseudonymizer([("k1", "a-test-pseudonym-key-of-32-characters!")])


def granting(pseudonymizer: Pseudonymizer = PSEUDONYMS) -> ConsentLink:
    """Consent where every purpose is granted until denied (an opt-out region), with nothing to load."""
    return ConsentLink(ConsentPolicy(opt_in_regions=frozenset()), pseudonymizer, default_region="US", loaded=True)


class Clock:
    """Real time plus an offset a test can move (72 hours in a moment)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def click(i: int, *, at: float | None = None, recipient: str = "", campaign: str = "c1") -> EventRow:
    moment = datetime.fromtimestamp(at if at is not None else time.time(), UTC)
    return EventRow(
        event_id=f"ev{i:06d}",
        event_time=moment,
        received_at=moment,
        event_name="email_click",
        source="click",
        campaign_id=campaign,
        link_id=str(i),  # the link id identifies the event at the stand-in (content = link id)
        recipient=recipient or f"sub-{i}",
        verdict="human",
    )


def append(outbox: Outbox, rows: list[EventRow]) -> None:
    async def go() -> None:
        assert all(await asyncio.gather(*(outbox.append(r.event_id, r.to_json()) for r in rows)))

    asyncio.run(go())


def arrivals(standin: StandIn) -> Counter[str]:
    """How many times each click (by link id) arrived at /mp/collect, whatever the answer was."""
    return Counter(e["params"]["content"] for _, e in standin.events() if e["name"] == "email_click")


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


class Rig:
    """An outbox, a ledger path, a stand-in and relays that can be started and stopped like processes."""

    def __init__(self, tmp: Path, standin: StandIn, clock: Clock) -> None:
        self.tmp = tmp
        self.standin = standin
        self.clock = clock
        self.outbox = Outbox(tmp / "outbox.sqlite3", consumers=("ga4",))
        self.ledger_path = tmp / "ledger.sqlite3"
        self.relay: Relay | None = None

    def config(self, **changes: object) -> RelayConfig:
        base: dict[str, object] = {
            "measurement_id": "G-TEST123",
            "api_secret": "stand-in-secret",
            "origin": self.standin.url,
            "max_backoff": 0.2,
            "batch_delay": 0.05,
            "timeout": 2.0,
        }
        base.update(changes)
        return RelayConfig(**base)  # type: ignore[arg-type]

    def start(self, **changes: object) -> Relay:
        self.consent = granting()
        builder = PayloadBuilder(PSEUDONYMS, consent=self.consent)
        self.relay = Relay(self.outbox, self.ledger_path, builder, self.config(**changes), Metrics(), clock=self.clock)
        self.relay.start()
        return self.relay

    def stop(self, timeout: float = 5.0) -> None:
        if self.relay is not None:
            self.relay.stop(timeout)
            self.relay = None

    def ledger(self) -> Ledger:
        return Ledger(self.ledger_path, clock=self.clock)


@pytest.fixture
def rig(tmp_path: Path, standin: StandIn) -> Iterator[Rig]:
    r = Rig(tmp_path, standin, Clock())
    yield r
    r.stop()
    r.outbox.close()
