"""The shop of the proof: a client of a live gateway's public API, and the record of what it made.

``Shop`` does only what a shop, its site and its email tool can do from outside: ``POST /v1/links`` to sign an
email's links, a browser fetching the pixel (``/o/``) and following a tracked link (``/c/``, no ``_ga`` cookie: the
mail app is not the shop's site), ``POST /v1/identify`` trading the click's landing token for the site's GA client
id, ``POST /v1/events`` for the shop's session starts, page views and purchases, and lines kept for an import of
history. ``Expected`` is what it did: the paths the warehouse must build, by transaction and by person, and whose
every stored visit is. The kinds of journey that drive it are in ``journey_api``.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import LiveGateway, run_cli

HUMAN_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)
BROWSER = {"user-agent": HUMAN_UA, "accept": "text/html", "accept-language": "en"}
PIXEL = {"user-agent": HUMAN_UA, "accept": "image/*", "accept-language": "en"}

# Five channels arrive as visits with a source and medium, the sixth is email, the seventh direct.
VISITS = (
    ("google", "cpc"),
    ("google", "organic"),
    ("facebook", "paid"),
    ("instagram", "social"),
    ("partner", "referral"),
)
CHANNELS = ("email", *(f"{s} / {m}" for s, m in VISITS), "direct")
# GA4's default channel group of each, by Google's rules read by hand: google is a search site and cpc a paid
# medium, facebook and instagram are social sites, referral is Referral's medium.
DEFAULT_CHANNEL = {
    "email": "Email",
    "google / cpc": "Paid Search",
    "google / organic": "Organic Search",
    "facebook / paid": "Paid Social",
    "instagram / social": "Organic Social",
    "partner / referral": "Referral",
    "direct": "Direct",
    "(none)": "(none)",
}
# A page view without a source, as shops and GA write it.
DIRECT_TRAFFIC: tuple[dict[str, str] | None, ...] = (
    None,
    {"source": "(direct)", "medium": "(none)"},
    {"source": "(direct)", "medium": "(not set)"},
)

Who = dict[str, str]  # {"email": ...} or {"client_id": ...}
Via = str  # "events" (POST /v1/events), "ndjson" (ga4gw import events) or "csv" (POST /v1/events/import)


@dataclass
class Journey:
    person: str
    path: list[str]


@dataclass
class Expected:
    """What the generator did: the path of every purchase (by transaction id) and of every person's touches after
    their last purchase (by person), the revenue of every purchase, and how many events the warehouse must hold."""

    purchases: dict[str, Journey] = field(default_factory=dict)
    revenue: dict[str, str] = field(default_factory=dict)
    lost: dict[str, list[str]] = field(default_factory=dict)
    events: int = 0
    imported: int = 0
    owner: dict[str, str] = field(default_factory=dict)  # every stored visit's event id: whose it is


@dataclass
class Shop:
    """A client of one live gateway: signs links, clicks them like a browser, sends and imports the shop's events."""

    gw: LiveGateway
    rng: random.Random
    expected: Expected = field(default_factory=Expected)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    history: dict[Via, list[dict[str, Any]]] = field(default_factory=lambda: {"ndjson": [], "csv": []})
    identify_later: list[tuple[str, str]] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)  # a site's client id: whose it is

    def _post(self, route: str, scope: str, headers: dict[str, str] | None = None, **request: Any) -> dict[str, Any]:
        auth = {"authorization": f"Bearer {self.gw.token(scope)}", **(headers or {})}
        answer = self.http.post(self.gw.url + route, headers=auth, **request)
        assert answer.status_code in (200, 202), answer.text
        return dict(answer.json())

    def send(self, events: list[dict[str, Any]], via: Via = "events") -> None:
        if not events:
            return
        if via == "events":
            answer = self._post("/v1/events", "events:write", json={"events": events})
            ids = [e["event_id"] for e in answer["events"]]
            time.sleep(0.002)  # the next live touch has a later millisecond
        else:  # an import's event ids are import-<the line's event_id>
            ids = [f"import-{via}-{len(self.history[via]) + n}" for n in range(len(events))]
            self.history[via] += [
                {**e, "event_id": i.removeprefix("import-")} for e, i in zip(events, ids, strict=True)
            ]
            self.expected.imported += len(events)
        for event, event_id in zip(events, ids, strict=True):
            who = event.get("email") or event["client_id"]
            self.expected.owner[event_id] = self.people.get(who, who)
        self.expected.events += len(events)

    def moments(self, count: int, hours: tuple[int, int]) -> list[datetime]:
        """``count`` times, oldest first, between ``hours`` back (in one-hour slots, up to 20 minutes late): any two
        are at least 40 minutes apart, and the latest at least 40 minutes before now."""
        slots = self.rng.sample(range(*hours), count)
        late = [timedelta(milliseconds=self.rng.randrange(20 * 60_000)) for _ in slots]
        return sorted(self.now - timedelta(hours=s) + d for s, d in zip(slots, late, strict=True))

    def client_id(self) -> str:
        return f"{self.rng.randrange(10**8, 10**9)}.{int(self.now.timestamp()) - 86400}"

    def visits(self, who: Who, moments: list[datetime], via: Via = "events") -> list[str]:
        """Page views from random channels at ``moments``; sometimes a page without a source five minutes after one
        (a page of that visit's session, not a touch). Their path."""
        picked = [self.rng.choice(VISITS) for _ in moments]
        events = []
        for at, (source, medium) in zip(moments, picked, strict=True):
            traffic = {"source": source, "medium": medium, "campaign": f"{source}-{medium}"}
            events.append(_event("page_view", who, at, traffic))
            if self.rng.random() < 0.25:
                events.append(_event("page_view", who, at + timedelta(minutes=5), None))
        self.send(events, via)
        return [f"{s} / {m}" for s, m in picked]

    def past_visits(self, who: Who, count: int) -> list[str]:
        return self.visits(who, self.moments(count, (1, 48)))

    def visit_now(self, who: Who) -> list[str]:
        source, medium = self.rng.choice(VISITS)
        self.send([_event("page_view", who, None, {"source": source, "medium": medium})])
        return [f"{source} / {medium}"]

    def direct(self, who: Who, at: datetime | None = None, via: Via = "events") -> list[str]:
        """A direct visit: a session start without a source (sometimes with its first page at the same moment), or
        a page view without one. The caller makes sure no visit or click of ``who`` is in the 30 minutes before."""
        way = self.rng.randrange(3)
        if way == 0:
            events = [_event("session_start", who, at, None)]
            if self.rng.random() < 0.5:
                events.append(_event("page_view", who, at, None))
        else:
            events = [_event("page_view", who, at, self.rng.choice(DIRECT_TRAFFIC))]
        self.send(events, via)
        return ["direct"]

    def email_click(self, email: str, *, opened: bool = False) -> tuple[list[str], str]:
        """An email to ``email``: optionally its pixel fetched (an open), then its link followed (a click) by a
        browser without the shop's cookie. Its path and the landing token the redirect carried."""
        body = {"campaign": f"news-{self.rng.randrange(3)}", "email": email, "sent_at": int(time.time()) - 3600}
        made = self._post("/v1/links", "links:write", json={**body, "urls": ["https://shop.example/sale"]})
        path = []
        if opened:
            assert self.http.get(self._local(made["pixel"]), headers=PIXEL).status_code == 200
            path.append("email")
            self.expected.events += 1
        click = self.http.get(self._local(made["links"][0]["tracked"]), headers=BROWSER)
        assert click.status_code in (302, 303, 307), click.text
        self.expected.events += 1
        time.sleep(0.002)
        return [*path, "email"], parse_qs(urlsplit(click.headers["location"]).query)["ga4gw_lt"][0]

    def page(self, who: Who) -> None:
        """A page without a source, now: a page of the session the person's latest visit or click opened."""
        self.send([_event("page_view", who, None, None)])

    def landing(self, who: Who) -> None:
        """The shop's page view of the click's landing (utm_medium=email): the click already counts, it does not."""
        self.send([_event("page_view", who, None, {"source": "ga4gw", "medium": "email", "campaign": "news"})])

    def identify(self, token: str, client: str) -> None:
        answer = self._post("/v1/identify", "identity:write", json={"landing_token": token, "client_id": client})
        assert answer["accepted"] is True, answer
        self.expected.events += 1

    def purchase(self, who: Who, at: datetime | None = None, via: Via = "events") -> str:
        """A purchase (now unless ``at``); returns its transaction id."""
        transaction = f"T-{self.rng.randrange(10**9):09d}"
        revenue = f"{self.rng.randrange(500, 40000) / 100:.2f}"
        params = {"transaction_id": transaction, "value": float(revenue), "currency": "EUR"}
        self.send([{**_event("purchase", who, at, None), "params": params}], via)
        self.expected.revenue[transaction] = revenue
        return transaction

    def import_history(self, workdir: Path) -> None:
        """The history kept for import: NDJSON through ``ga4gw import events`` (which finds the running gateway and
        streams the file to it), CSV posted to ``POST /v1/events/import``."""
        ndjson = workdir / "history.ndjson"
        ndjson.write_text("".join(json.dumps(e) + "\n" for e in self.history["ndjson"]), encoding="utf-8")
        result = run_cli("import", "events", str(ndjson), "--quiet", env=self.gw.env)
        assert result.returncode == 0, result.stderr
        body = csv_body(self.history["csv"])
        self._post("/v1/events/import", "events:import", content=body, headers={"content-type": "text/csv"})

    def bought(self, person: str, transaction: str, path: list[str]) -> None:
        self.expected.purchases[transaction] = Journey(person, path)

    def _local(self, url: str) -> str:
        return self.gw.url + urlsplit(url).path


def _event(name: str, who: Who, at: datetime | None, traffic: dict[str, str] | None) -> dict[str, Any]:
    event: dict[str, Any] = {"name": name, **who, "params": {"page_location": "https://shop.example/"}}
    if at is not None:
        event["time"] = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if traffic is not None:
        event["traffic"] = traffic
    return event


def csv_body(events: list[dict[str, Any]]) -> bytes:
    """The events as CSV, nested fields in dotted columns (``traffic.source``, ``params.value``)."""
    rows = []
    for event in events:
        row: dict[str, Any] = {}
        for key, value in event.items():
            row.update({f"{key}.{k}": v for k, v in value.items()} if isinstance(value, dict) else {key: value})
        rows.append(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, sorted({c for row in rows for c in row}))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def select(gw: LiveGateway, query: str) -> list[dict[str, Any]]:
    """Rows of ``query`` read through the running gateway's ClickHouse interface."""
    answer = httpx.post(gw.url + "/clickhouse/", content=(query + " FORMAT JSONEachRow").encode(),
                        headers={"authorization": f"Bearer {gw.token('sql:read')}"}, timeout=120)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines()]


def wait_stored(gw: LiveGateway, events: int) -> None:
    deadline = time.monotonic() + 60
    while (stored := int(select(gw, "SELECT count() AS n FROM events")[0]["n"])) < events:
        assert time.monotonic() < deadline, f"{stored} of {events} events reached the warehouse"
        time.sleep(0.2)
    assert stored == events, f"{stored} events stored, {events} made"
