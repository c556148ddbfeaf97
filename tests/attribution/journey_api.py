"""Journeys generated through a live gateway's public API, and the paths they must produce.

Only what a shop and its email tool can do from outside: ``POST /v1/links`` to sign an email's links, a browser
fetching the pixel (``/o/``) and following a tracked link (``/c/``), ``POST /v1/events`` for the shop's page views
(with the visit's ``traffic`` source and medium) and purchases. A person is an email address: the links are
signed for it and the shop names it in its events, so the email pseudonym is the person key on both sides.

One function per kind of journey (``KINDS``); each records the path it expects (the channels in time order) so
a test can check the journeys the warehouse built before checking what the models made of them. Touches dated
in the past (up to two days back, inside GA4's 72 hours) come first in a journey; the email and what follows it
happen in real time, in order, so every touch has its own millisecond.

Not generated yet (they come with other parts of issue 15): identify joins (a click, ``POST /v1/identify``, a
purchase under the site's client id), direct visits (``session_start`` or a source-less page view), history
older than 72 hours (``ga4gw import events``). Each is one more function here, added to ``KINDS``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from tests.conftest import LiveGateway

HUMAN_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)
BROWSER = {"user-agent": HUMAN_UA, "accept": "text/html", "accept-language": "en"}
PIXEL = {"user-agent": HUMAN_UA, "accept": "image/*", "accept-language": "en"}

# Five channels arrive as visits with a source and medium, the sixth is email.
VISITS = (
    ("google", "cpc"),
    ("google", "organic"),
    ("facebook", "paid"),
    ("instagram", "social"),
    ("partner", "referral"),
)
CHANNELS = ("email", *(f"{s} / {m}" for s, m in VISITS))


@dataclass
class Expected:
    """What the generator did: the path of every purchase (by transaction id) and of every non-converting person,
    the revenue of every purchase, and how many events the warehouse must hold."""

    purchases: dict[str, list[str]] = field(default_factory=dict)
    revenue: dict[str, str] = field(default_factory=dict)
    lost: list[list[str]] = field(default_factory=list)
    events: int = 0


@dataclass
class Shop:
    """A client of one live gateway: signs links, clicks them like a browser, and sends the shop's events."""

    gw: LiveGateway
    rng: random.Random
    expected: Expected = field(default_factory=Expected)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def _auth(self, scope: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.gw.token(scope)}"}

    def _events(self, events: list[dict[str, object]]) -> None:
        if not events:
            return
        answer = self.http.post(self.gw.url + "/v1/events", json={"events": events}, headers=self._auth("events:write"))
        assert answer.status_code == 202, answer.text
        self.expected.events += len(events)

    def past_visits(self, email: str, count: int) -> list[str]:
        """``count`` page views from random channels, dated in the last two days, in one request; their path."""
        moments = sorted(self.now - timedelta(minutes=self.rng.randrange(10, 47 * 60)) for _ in range(count))
        picked = [self.rng.choice(VISITS) for _ in moments]
        self._events(
            [
                {
                    "name": "page_view",
                    "email": email,
                    "time": at.isoformat().replace("+00:00", "Z"),
                    "traffic": {"source": source, "medium": medium, "campaign": f"{source}-{medium}"},
                    "params": {"page_location": "https://shop.example/"},
                }
                for at, (source, medium) in zip(moments, picked, strict=True)
            ]
        )
        return [f"{s} / {m}" for s, m in picked]

    def visit_now(self, email: str) -> list[str]:
        source, medium = self.rng.choice(VISITS)
        self._events(
            [
                {
                    "name": "page_view",
                    "email": email,
                    "traffic": {"source": source, "medium": medium},
                    "params": {"page_location": "https://shop.example/p"},
                }
            ]
        )
        return [f"{source} / {medium}"]

    def email_click(self, email: str, *, opened: bool = False) -> list[str]:
        """An email to ``email``: optionally its pixel fetched (an open), then its link followed (a click)."""
        body = {"campaign": f"news-{self.rng.randrange(3)}", "email": email, "sent_at": int(time.time()) - 3600}
        answer = self.http.post(self.gw.url + "/v1/links", json={**body, "urls": ["https://shop.example/sale"]},
                                headers=self._auth("links:write"))  # fmt: skip
        assert answer.status_code == 200, answer.text
        made = answer.json()
        path = []
        if opened:
            assert self.http.get(self._local(made["pixel"]), headers=PIXEL).status_code == 200
            path.append("email")
            self.expected.events += 1
        click = self.http.get(self._local(made["links"][0]["tracked"]), headers=BROWSER)
        assert click.status_code in (302, 303, 307), click.text
        self.expected.events += 1
        return [*path, "email"]

    def purchase(self, email: str) -> str:
        """A purchase now; returns its transaction id."""
        transaction = f"T-{self.rng.randrange(10**9):09d}"
        revenue = f"{self.rng.randrange(500, 40000) / 100:.2f}"
        params = {"transaction_id": transaction, "value": float(revenue), "currency": "EUR"}
        self._events([{"name": "purchase", "email": email, "params": params}])
        self.expected.revenue[transaction] = revenue
        return transaction

    def _local(self, url: str) -> str:
        return self.gw.url + urlsplit(url).path


# Kinds of journey. Each takes the shop and a fresh email address and records what it expects.


def searched_and_bought(shop: Shop, email: str) -> None:
    path = shop.past_visits(email, shop.rng.randint(1, 4))
    shop.expected.purchases[shop.purchase(email)] = path


def emailed_and_bought(shop: Shop, email: str) -> None:
    """Earlier visits, then the email (sometimes opened first), sometimes another visit, then the purchase."""
    path = shop.past_visits(email, shop.rng.randint(0, 3))
    path += shop.email_click(email, opened=shop.rng.random() < 0.3)
    if shop.rng.random() < 0.5:
        path += shop.visit_now(email)
    shop.expected.purchases[shop.purchase(email)] = path


def browsed_and_left(shop: Shop, email: str) -> None:
    path = shop.past_visits(email, shop.rng.randint(1, 3))
    if shop.rng.random() < 0.4:
        path += shop.email_click(email)
    shop.expected.lost.append(path)


def bought_twice(shop: Shop, email: str) -> None:
    """A repeat buyer: the second purchase's path holds the first one's touches too (both inside the windows)."""
    first = shop.past_visits(email, shop.rng.randint(1, 2))
    shop.expected.purchases[shop.purchase(email)] = first
    second = first + shop.email_click(email) + shop.visit_now(email)
    shop.expected.purchases[shop.purchase(email)] = second


def bought_then_browsed(shop: Shop, email: str) -> None:
    """A buyer who comes back without buying: the touches after the purchase are a non-converting journey."""
    path = shop.past_visits(email, shop.rng.randint(1, 3))
    shop.expected.purchases[shop.purchase(email)] = path
    shop.expected.lost.append(shop.visit_now(email) + shop.email_click(email))


def bought_untouched(shop: Shop, email: str) -> None:
    shop.expected.purchases[shop.purchase(email)] = ["(none)"]


Kind = Callable[[Shop, str], None]
KINDS: dict[Kind, int] = {
    searched_and_bought: 80,
    emailed_and_bought: 90,
    browsed_and_left: 80,
    bought_twice: 20,
    bought_then_browsed: 20,
    bought_untouched: 10,
}


def generate(gw: LiveGateway, seed: int) -> Expected:
    """Every kind of journey as often as ``KINDS`` says, in a shuffled order, one new person each."""
    rng = random.Random(seed)
    shop = Shop(gw, rng)
    plan = [kind for kind, times in KINDS.items() for _ in range(times)]
    rng.shuffle(plan)
    with shop.http:
        for n, kind in enumerate(plan):
            kind(shop, f"person{n:04d}.{kind.__name__}@example.com")
    return shop.expected
