"""Journeys generated through a live gateway's public API, and the paths they must produce.

Only what a shop, its site and its email tool can do from outside (``shop.Shop``): signed links, opens and clicks
through ``/o/`` and ``/c/``, ``POST /v1/identify`` with the click's landing token and the site's GA client id,
``POST /v1/events`` for the shop's session starts, page views (with the visit's ``traffic``, or none for a direct
visit) and purchases, and a history of past orders and sessions imported by ``ga4gw import events`` (NDJSON) or
``POST /v1/events/import`` (CSV). A person is an email address, or a site's client id that an identification joins
to one.

One function per kind of journey (``KINDS``); each records the path it expects (the channels in time order) by
person, so a test checks the journeys the warehouse built, and who it took for one person, before checking what
the models made of them. The paths follow the README's rules, applied here by hand:

- a ``session_start`` is always a touch; a page view without a source (or with GA's ``(direct) / (none)``) is a
  direct touch only when it opens a session (no visit or email click of the person in the 30 minutes before);
  generated visits are at least 40 minutes apart, so the generator knows which is which;
- a page view whose medium is ``email`` is the landing of a click, already counted as the click;
- an identified click belongs to whoever buys under the client id it was joined to, whichever came first.

Past touches are dated: recent ones 40 minutes to two days back, history 4 to 29 days back (beyond GA4's 72
hours); the email and what follows it happen in real time, in order, each touch in its own millisecond.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from tests.conftest import LiveGateway

from .shop import CHANNELS, DEFAULT_CHANNEL, Expected, Shop, Via, Who, select, wait_stored

__all__ = ["CHANNELS", "DEFAULT_CHANNEL", "KINDS", "Expected", "generate", "select"]


# Kinds of journey. Each takes the shop and a fresh email address and records what it expects.


def searched_and_bought(shop: Shop, email: str) -> None:
    path = shop.past_visits({"email": email}, shop.rng.randint(1, 4))
    shop.bought(email, shop.purchase({"email": email}), path)


def emailed_and_bought(shop: Shop, email: str) -> None:
    """Earlier visits, then the email (sometimes opened first; sometimes a page without a source after the click, a
    page of the session the click opened), sometimes another visit, then the purchase."""
    who = {"email": email}
    path = shop.past_visits(who, shop.rng.randint(0, 3))
    clicked, _ = shop.email_click(email, opened=shop.rng.random() < 0.3)
    path += clicked
    if shop.rng.random() < 0.4:
        shop.page(who)
    if shop.rng.random() < 0.5:
        path += shop.visit_now(who)
    shop.bought(email, shop.purchase(who), path)


def browsed_and_left(shop: Shop, email: str) -> None:
    path = shop.past_visits({"email": email}, shop.rng.randint(1, 3))
    if shop.rng.random() < 0.4:
        path += shop.email_click(email)[0]
    shop.expected.lost[email] = path


def bought_twice(shop: Shop, email: str) -> None:
    """A repeat buyer: the second purchase's path holds the first one's touches too (both inside the windows)."""
    who = {"email": email}
    first = shop.past_visits(who, shop.rng.randint(1, 2))
    shop.bought(email, shop.purchase(who), first)
    second = first + shop.email_click(email)[0] + shop.visit_now(who)
    shop.bought(email, shop.purchase(who), second)


def bought_then_browsed(shop: Shop, email: str) -> None:
    """A buyer who comes back without buying: the touches after the purchase are a non-converting journey."""
    who = {"email": email}
    path = shop.past_visits(who, shop.rng.randint(1, 3))
    shop.bought(email, shop.purchase(who), path)
    shop.expected.lost[email] = shop.visit_now(who) + shop.email_click(email)[0]


def bought_untouched(shop: Shop, email: str) -> None:
    shop.bought(email, shop.purchase({"email": email}), ["(none)"])


def _clicked_on_the_site(shop: Shop, email: str) -> tuple[Who, list[str], str]:
    """The site's visitor (a client id, visits from other channels before) clicks the email; the site's page
    view of the landing. The visitor, the path so far and the click's landing token."""
    site = {"client_id": shop.client_id()}
    shop.people[site["client_id"]] = email
    path = shop.past_visits(site, shop.rng.randint(0, 2))
    clicked, token = shop.email_click(email)
    shop.landing(site)
    return site, path + clicked, token


def clicked_identified_bought(shop: Shop, email: str) -> None:
    """Identify join: the site trades the landing token for its client id, then the purchase under the client id
    alone. The click and the site's visits are one person's journey."""
    site, path, token = _clicked_on_the_site(shop, email)
    shop.identify(token, site["client_id"])
    if shop.rng.random() < 0.4:
        path += shop.visit_now(site)
    shop.bought(email, shop.purchase(site), path)


def bought_then_identified(shop: Shop, email: str) -> None:
    """The same, but the identification is posted once the purchase is in the warehouse (``generate`` does it at
    the end): the run, not the ingest, joins them."""
    site, path, token = _clicked_on_the_site(shop, email)
    shop.bought(email, shop.purchase(site), path)
    shop.identify_later.append((token, site["client_id"]))


def identified_and_left(shop: Shop, email: str) -> None:
    site, path, token = _clicked_on_the_site(shop, email)
    shop.identify(token, site["client_id"])
    shop.expected.lost[email] = path + shop.visit_now(site)


def came_back_direct(shop: Shop, email: str) -> None:
    """Visits from channels, then a direct visit (sometimes with more pages of its session), then the purchase:
    last touch is direct, last non-direct the latest channel before it."""
    who = {"email": email}
    path = shop.past_visits(who, shop.rng.randint(1, 3)) + shop.direct(who)
    if shop.rng.random() < 0.4:
        shop.page(who)
    shop.bought(email, shop.purchase(who), path)


def only_direct(shop: Shop, email: str) -> None:
    """Direct visits only (sometimes one two days back): last non-direct falls back to the last touch."""
    who = {"email": email}
    path = shop.direct(who, shop.moments(1, (1, 48))[0]) if shop.rng.random() < 0.5 else []
    path += shop.direct(who)
    shop.bought(email, shop.purchase(who), path)


def _history(shop: Shop, who: Who, via: Via, days: int) -> list[str]:
    """Visits (sometimes a direct one) dated ``days`` to ``days`` + 3 back, before a purchase ``days`` back."""
    moments = shop.moments(shop.rng.randint(1, 3), (24 * days + 1, 24 * (days + 3)))
    if shop.rng.random() < 0.3:  # the latest visit a direct landing
        *moments, landing = moments
        return (shop.visits(who, moments, via) if moments else []) + shop.direct(who, landing, via)
    return shop.visits(who, moments, via)


def bought_weeks_ago(shop: Shop, email: str) -> None:
    """A purchase 4 to 26 days back and the visits before it, all dated, sent to ``/v1/events``."""
    who, days = {"email": email}, shop.rng.randint(4, 26)
    path = _history(shop, who, "events", days)
    shop.bought(email, shop.purchase(who, shop.now - timedelta(days=days)), path)


def imported_history(shop: Shop, email: str) -> None:
    """An imported past purchase with its visits; sometimes the person comes back by email and buys again now."""
    who, days, via = {"email": email}, shop.rng.randint(4, 26), shop.rng.choice(("ndjson", "csv"))
    path = _history(shop, who, via, days)
    shop.bought(email, shop.purchase(who, shop.now - timedelta(days=days), via), path)
    if shop.rng.random() < 0.5:
        again = path + shop.email_click(email)[0]  # the click before the purchase
        shop.bought(email, shop.purchase(who), again)


def imported_and_left(shop: Shop, email: str) -> None:
    who = {"email": email}
    via = shop.rng.choice(("ndjson", "csv"))
    shop.expected.lost[email] = shop.visits(who, shop.moments(shop.rng.randint(1, 3), (96, 28 * 24)), via)


Kind = Callable[[Shop, str], None]
KINDS: dict[Kind, int] = {
    searched_and_bought: 40,
    emailed_and_bought: 50,
    browsed_and_left: 40,
    bought_twice: 15,
    bought_then_browsed: 15,
    bought_untouched: 10,
    clicked_identified_bought: 25,
    bought_then_identified: 20,
    identified_and_left: 10,
    came_back_direct: 30,
    only_direct: 15,
    bought_weeks_ago: 20,
    imported_history: 30,
    imported_and_left: 10,
}


def generate(gw: LiveGateway, seed: int, workdir: Path) -> Expected:
    """Every kind of journey as often as ``KINDS`` says, in a shuffled order, one new person each; then the history
    imported, and once all of it is in the warehouse, the identifications that come after the purchase."""
    rng = random.Random(seed)
    shop = Shop(gw, rng)
    plan = [kind for kind, times in KINDS.items() for _ in range(times)]
    rng.shuffle(plan)
    with shop.http:
        for n, kind in enumerate(plan):
            kind(shop, f"person{n:04d}.{kind.__name__}@example.com")
        shop.import_history(workdir)
        wait_stored(gw, shop.expected.events)
        for token, client in shop.identify_later:
            shop.identify(token, client)
        wait_stored(gw, shop.expected.events)
    return shop.expected
