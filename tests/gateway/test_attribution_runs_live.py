"""Issue 15, defect 6: attribution runs on demand through a running gateway, one at a time.

The attack: with a gateway running, ``ga4gw attribution run`` refused (the embedded warehouse has one owner) and
``GET /v1/attribution`` stayed empty until the nightly run at 03:30 UTC.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import LiveGateway, run_cli
from tests.gateway.ga4.conftest import wait_for

pytestmark = pytest.mark.live


def seed(gw: LiveGateway) -> None:
    """Two people: each a paid-search visit, then a purchase an hour later."""
    now = int(time.time())
    events: list[dict[str, Any]] = []
    for n, cid in enumerate(("111.222", "333.444")):
        events.append({"name": "page_view", "client_id": cid, "time": now - 7200,
                       "traffic": {"source": "google", "medium": "cpc"},
                       "params": {"page_location": "https://shop.example/"}})  # fmt: skip
        events.append({"name": "purchase", "client_id": cid, "time": now - 3600,
                       "params": {"transaction_id": f"T-{n}", "value": 20, "currency": "EUR"}})  # fmt: skip
    token = gw.token("events:write")
    answer = httpx.post(gw.url + "/v1/events", json={"events": events}, headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 202, answer.text
    wait_for(lambda: run_cli("sql", "SELECT count() FROM events", env=gw.env).stdout.strip() == "4", timeout=30)


def poll(gw: LiveGateway, url: str, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = httpx.get(gw.url + url, headers={"authorization": f"Bearer {token}"}).json()
        if status["status"] in ("done", "failed"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"the run did not end: {status}")


def test_a_run_asked_for_over_http_ends_done_and_credits_are_readable_at_once(live_gateway: LiveGateway) -> None:
    gw = live_gateway
    seed(gw)
    token = gw.token("attribution:run")
    reports = {"authorization": f"Bearer {gw.token('reports:read')}"}
    before = httpx.get(gw.url + "/v1/attribution", params={"model": "last_touch"}, headers=reports).json()
    assert before["groups"] == []
    assert httpx.post(gw.url + "/v1/attribution/runs", headers=reports).status_code == 403  # its own scope
    started = httpx.post(gw.url + "/v1/attribution/runs", headers={"authorization": f"Bearer {token}"})
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["status"] in ("queued", "running")
    assert started.headers["location"] == body["status_url"] == f"/v1/attribution/runs/{body['id']}"
    status = poll(gw, body["status_url"], token)
    assert status["status"] == "done", status
    assert (status["conversions"], status["trigger"]) == (2, "api")
    after = httpx.get(gw.url + "/v1/attribution", params={"model": "last_touch"}, headers=reports).json()
    assert [(g["channel"], g["conversions"]) for g in after["groups"]] == [("google / cpc", 2.0)]
    missing = httpx.get(gw.url + "/v1/attribution/runs/nope", headers={"authorization": f"Bearer {token}"})
    assert missing.status_code == 404
    wrong = httpx.post(gw.url + "/v1/attribution/runs", json={"models": ["nope"], "since": 5},
                       headers={"authorization": f"Bearer {token}"})  # fmt: skip
    assert wrong.status_code == 422
    assert set(wrong.json()["fields"]) == {"models", "since"}


def test_two_runs_asked_for_at_once_do_not_run_at_once(live_gateway: LiveGateway) -> None:
    gw = live_gateway
    seed(gw)
    token = gw.token("attribution:run")
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(2)

    def ask() -> None:
        barrier.wait()
        answers.append(httpx.post(gw.url + "/v1/attribution/runs", headers={"authorization": f"Bearer {token}"}))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [202, 202]
    first, second = sorted((poll(gw, a.json()["status_url"], token) for a in answers), key=lambda s: s["started_at"])
    assert first["id"] != second["id"]
    assert (first["status"], second["status"]) == ("done", "done")
    assert datetime.fromisoformat(first["finished_at"]) <= datetime.fromisoformat(second["started_at"])


def test_the_cli_runs_attribution_through_the_running_gateway(live_gateway: LiveGateway) -> None:
    gw = live_gateway
    seed(gw)
    result = run_cli("attribution", "run", "--model", "last_touch", "--model", "linear", env=gw.env)
    assert result.returncode == 0, result.stderr
    assert "attributed 2 conversions" in result.stdout
    assert f"through the gateway (pid {gw.proc.pid})" in result.stderr
    assert "last_touch" in result.stdout
    assert "] 3/3 done" in result.stderr  # the run's own progress, read from its status
    runs = run_cli("sql", "SELECT count() FROM attribution_runs", env=gw.env).stdout.strip()
    assert runs == "1"
