"""The relay against the MP stand-in over real HTTP: every event once, retries only when ambiguous, 72 hours."""

from __future__ import annotations

import json
import time

from gateway.ga4.admin import replay
from tests.gateway.ga4.conftest import Rig, append, arrivals, click, wait_for
from warehouse import EventRow

HOUR = 3600.0


def settled(rig: Rig, events: int) -> bool:
    ledger = rig.ledger()
    try:
        status = ledger.status(max_age=72 * HOUR)
        return status.queued_deliveries == 0 and status.position >= events
    finally:
        ledger.close()


def test_every_event_arrives_once_in_valid_batched_requests(rig: Rig) -> None:
    rig.start()
    append(rig.outbox, [click(i, recipient=f"sub-{i % 20}") for i in range(300)])
    wait_for(lambda: settled(rig, 300))
    assert arrivals(rig.standin) == {str(i): 1 for i in range(300)}
    requests = rig.standin.requests()
    assert all(r.secret_ok and r.measurement_id == "G-TEST123" and r.answered == 204 for r in requests)
    for request in requests:
        body = request.body
        assert len(body["events"]) <= 25
        assert len(json.dumps(body).encode()) < 130_000
        # one person per request: the request-level fields hold for every event in it
        assert len({e["params"]["content"] for e in body["events"]}) * 2 == len(body["events"])
    # 20 recipients, 15 clicks each = 30 MP events each: two requests per recipient, not 300
    assert len(requests) == 40
    status = rig.ledger().status(max_age=72 * HOUR)
    assert status.deliveries["sent"] == 40
    assert status.events["sent"] == 600
    assert status.possible_duplicates == 0


def test_down_for_a_while_then_back_every_event_exactly_once(rig: Rig) -> None:
    rig.standin.pause()
    rig.start()
    append(rig.outbox, [click(i) for i in range(50)])
    wait_for(lambda: rig.ledger().status(max_age=72 * HOUR).deliveries["retrying"] == 50)
    time.sleep(0.5)  # several refused tries each
    assert arrivals(rig.standin) == {}
    rig.standin.resume()
    wait_for(lambda: settled(rig, 50))
    assert arrivals(rig.standin) == {str(i): 1 for i in range(50)}
    status = rig.ledger().status(max_age=72 * HOUR)
    assert status.possible_duplicates == 0  # refused connections never carried a body


def test_server_errors_are_retried_until_taken(rig: Rig) -> None:
    from gateway.ga4.standin import Behaviour

    rig.standin.script(Behaviour("fail", count=3, status=503), Behaviour("fail", count=1, status=500))
    rig.start()
    append(rig.outbox, [click(1)])
    wait_for(lambda: settled(rig, 1))
    answers = [r.answered for r in rig.standin.requests()]
    assert answers == [503, 503, 503, 500, 204]
    assert rig.ledger().status(max_age=72 * HOUR).deliveries == {"pending": 0, "retrying": 0, "sent": 1, "dead": 0}


def test_429_retry_after_is_honoured(rig: Rig) -> None:
    from gateway.ga4.standin import Behaviour

    rig.standin.script(Behaviour("throttle", seconds=1.5))
    rig.start(max_backoff=0.05)  # a plain backoff would retry within 50 ms
    append(rig.outbox, [click(1)])
    wait_for(lambda: settled(rig, 1))
    first, second = rig.standin.requests()
    assert (first.answered, second.answered) == (429, 204)
    assert second.at - first.at >= 1.5


def test_dropped_connection_after_the_body_at_most_one_extra_copy_and_counted(rig: Rig) -> None:
    from gateway.ga4.standin import Behaviour

    rig.standin.script(Behaviour("drop", count=2))
    rig.start()
    append(rig.outbox, [click(i) for i in range(10)])
    wait_for(lambda: settled(rig, 10))
    seen = arrivals(rig.standin)
    assert set(seen) == {str(i) for i in range(10)}
    assert set(seen.values()) <= {1, 2}
    doubled = sum(1 for n in seen.values() if n == 2)
    status = rig.ledger().status(max_age=72 * HOUR)
    # each dropped request carried one click (one recipient each): two extra copies, both counted
    assert doubled == 2
    assert status.possible_duplicates == 2


def test_a_refused_request_is_a_dead_letter_and_replay_sends_it(rig: Rig) -> None:
    from gateway.ga4.standin import Behaviour

    rig.standin.script(Behaviour("fail", count=1, status=403))
    rig.start()
    append(rig.outbox, [click(7)])
    wait_for(lambda: rig.ledger().status(max_age=72 * HOUR).dead_letters == {"rejected": 1})
    assert [r.answered for r in rig.standin.requests()] == [403]
    ledger = rig.ledger()
    assert replay(ledger, now=rig.clock()) == 1
    assert replay(ledger, now=rig.clock()) == 0  # a letter is replayed once
    wait_for(lambda: settled(rig, 1))
    assert [r.answered for r in rig.standin.requests()] == [403, 204]
    assert rig.ledger().status(max_age=72 * HOUR).dead_letters == {}


def test_an_event_held_past_72_hours_is_dead_lettered_and_never_sent(rig: Rig) -> None:
    rig.standin.pause()
    rig.start()
    append(rig.outbox, [click(i) for i in range(5)])
    wait_for(lambda: rig.ledger().status(max_age=72 * HOUR).deliveries["retrying"] == 5)
    rig.clock.offset = 72 * HOUR + 60  # GA4 is down for three days
    rig.standin.resume()
    wait_for(lambda: rig.ledger().status(max_age=72 * HOUR).dead_letters == {"expired": 5})
    time.sleep(0.3)
    assert arrivals(rig.standin) == {}
    ledger = rig.ledger()
    assert replay(ledger, now=rig.clock()) == 0  # outside the window: nothing to replay
    assert ledger.status(max_age=72 * HOUR).queued_deliveries == 0


def test_an_event_already_too_old_at_intake_is_dead_lettered_or_clamped(rig: Rig) -> None:
    old = time.time() - 73 * HOUR
    rig.start()
    append(rig.outbox, [click(1, at=old)])
    wait_for(lambda: rig.ledger().status(max_age=72 * HOUR).dead_letters == {"expired": 1})
    rig.stop()
    assert arrivals(rig.standin) == {}
    rig.start(expired="clamp")
    append(rig.outbox, [click(2, at=old)])
    wait_for(lambda: settled(rig, 2))
    [(_, event)] = [pair for pair in rig.standin.events() if pair[1]["name"] == "email_click"]
    assert event["params"]["content"] == "2"
    assert time.time() - event["timestamp_micros"] / 1e6 < 72 * HOUR


def test_restart_mid_flight_loses_nothing_and_resends_nothing_that_got_a_2xx(rig: Rig) -> None:
    from gateway.ga4.standin import Behaviour

    rig.standin.script(Behaviour("ok", count=5), Behaviour("stall", count=3, seconds=1.0))
    rig.start()
    append(rig.outbox, [click(i) for i in range(40)])
    wait_for(lambda: len(rig.standin.requests()) >= 5)
    rig.stop(timeout=5)  # a graceful stop lets the stalled requests finish
    append(rig.outbox, [click(i) for i in range(40, 60)])  # hits keep coming while the relay is down
    rig.start()
    wait_for(lambda: settled(rig, 60))
    assert arrivals(rig.standin) == {str(i): 1 for i in range(60)}
    assert rig.ledger().status(max_age=72 * HOUR).possible_duplicates == 0


def test_requests_in_flight_at_a_hard_stop_are_resent_and_counted(rig: Rig) -> None:
    from gateway.ga4.standin import Behaviour

    rig.standin.script(Behaviour("stall", count=3, seconds=1.5))
    rig.start(timeout=5.0)
    append(rig.outbox, [click(i) for i in range(3)])
    wait_for(lambda: rig.ledger().status(max_age=72 * HOUR).deliveries["pending"] == 3)
    time.sleep(0.3)  # the three are in flight, stalled
    relay = rig.relay
    assert relay is not None
    rig.relay = None
    relay.stop(timeout=0.0)  # gives in-flight requests no time: as if the process died
    # what the dead process left: the three marked in flight; the next start counts them as ambiguous
    rig.start()
    wait_for(lambda: settled(rig, 3))
    time.sleep(1.6)  # the stalled first copies land too
    seen = arrivals(rig.standin)
    assert set(seen) == {"0", "1", "2"}
    status = rig.ledger().status(max_age=72 * HOUR)
    assert status.possible_duplicates == 3
    assert sum(seen.values()) - 3 <= status.possible_duplicates


def test_a_row_that_cannot_be_read_is_a_dead_letter_and_does_not_hold_the_others(rig: Rig) -> None:
    import asyncio

    async def poison() -> None:
        assert await rig.outbox.append("broken", '["not", "an", "event row"]')

    append(rig.outbox, [click(1)])
    asyncio.run(poison())
    append(rig.outbox, [click(2)])
    rig.start()
    wait_for(lambda: settled(rig, 3))
    assert arrivals(rig.standin) == {"1": 1, "2": 1}
    assert rig.ledger().status(max_age=72 * HOUR).dead_letters == {"invalid": 1}


def test_an_invalid_event_is_set_apart_and_its_request_neighbours_still_go(rig: Rig) -> None:
    from dataclasses import replace

    def page(i: int, params: dict) -> EventRow:
        base = click(i)
        return replace(base, event_name="page_view", source="server", recipient="", link_id="", verdict="",
                       ga_client_id="99.1700000000", params={"ga4_params": json.dumps(params)})  # fmt: skip

    rows = [page(1, {"page_location": "https://shop.example/a"}), page(2, {"_secret": "x"}),
            page(3, {"page_location": "https://shop.example/b"})]  # fmt: skip
    rig.start()
    append(rig.outbox, rows)
    wait_for(lambda: settled(rig, 3))
    [request] = rig.standin.requests()  # one person: one request, without the invalid event
    assert [e["params"].get("page_location") for e in request.body["events"]] == [
        "https://shop.example/a", "https://shop.example/b"]  # fmt: skip
    ledger = rig.ledger()
    assert ledger.status(max_age=72 * HOUR).dead_letters == {"invalid": 1}
    [(_, event_id, body, _)] = ledger.replayable(oldest=0, reasons=("invalid",))
    assert event_id == "ev000002"
    assert body["events"][0]["params"]["_secret"] == "x"
