from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.edge.machine import DEFAULT_SCANNER_MARKERS, Classifier, ClassifierConfig, Hit, Kind, Verdict

SENT = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
LATER = SENT + timedelta(hours=5)
HOME_IP = "198.51.100.23"
APPLE_IP = "17.58.101.4"

APPLE_MPP = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
)
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
OUTLOOK_DESKTOP = (
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; .NET4.0C; .NET4.0E; "
    "Microsoft Outlook 16.0.17328; ms-office; MSOffice 16)"
)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Safari/605.1.15"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID_CUBOT = (
    "Mozilla/5.0 (Linux; Android 9; CUBOT_P30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
FACEBOOK_IN_APP = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/21E236 [FBAN/FBIOS;FBAV/459.0.0.44.109;FBBV/600000000;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS]"
)
EDGE_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36 EdgA/124.0.2478.64"
)

HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36"
)

BROWSER_HEADERS = {"accept": "text/html,*/*;q=0.8", "accept-language": "en-GB,en;q=0.9"}


def hit(
    kind: Literal["open", "click"] = "click",
    ua: str | None = CHROME,
    *,
    method: str = "GET",
    ip: str = HOME_IP,
    campaign: str = "spring-sale",
    recipient: str = "r-1",
    link: str | None = "hero",
    sent: datetime | None = SENT,
    now: datetime = LATER,
    headers: Mapping[str, str] = BROWSER_HEADERS,
) -> Hit:
    all_headers = dict(headers)
    if ua is not None:
        all_headers["user-agent"] = ua
    return Hit(
        kind=kind,
        method=method,
        headers=all_headers,
        ip=ip,
        campaign_id=campaign,
        recipient=recipient,
        link_id=link if kind == "click" else None,
        send_time=sent,
        now=now,
    )


def opened_then(classifier: Classifier, click: Hit) -> Verdict:
    """Classify a click whose recipient's pixel was fetched earlier (the normal human path)."""
    classifier.classify(hit("open", IPHONE_MAIL, campaign=click.campaign_id, recipient=click.recipient))
    return classifier.classify(click)


PEOPLE = [CHROME, FIREFOX, SAFARI, SAFARI_IPHONE, CHROME_ANDROID_CUBOT, FACEBOOK_IN_APP, EDGE_ANDROID]


@pytest.mark.parametrize("ua", [*PEOPLE, IPHONE_MAIL, OUTLOOK_DESKTOP])
def test_people_opening_mail_are_human(ua: str) -> None:
    verdict = Classifier().classify(hit("open", ua))
    assert verdict == Verdict(Kind.HUMAN, ())
    assert verdict.is_human


@pytest.mark.parametrize("ua", PEOPLE)
def test_people_clicking_in_browsers_are_human(ua: str) -> None:
    assert opened_then(Classifier(), hit("click", ua)) == Verdict(Kind.HUMAN, ())


@pytest.mark.parametrize(
    ("ua", "marker"),
    [
        ("python-requests/2.31.0", "python-requests"),
        ("curl/8.4.0", "curl"),
        ("Go-http-client/1.1", "go-http-client"),
        ("Wget/1.21.4", "wget"),
        ("okhttp/4.12.0", "okhttp"),
        ("Apache-HttpClient/4.5.14 (Java/17.0.9)", "httpclient"),
        (HEADLESS_CHROME, "headless"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Microsoft-SafeLinks/1.0", "safelinks"),
        ("Mimecast-URL-Protect/2.0", "mimecast"),
        ("Proofpoint URL Defense (urldefense.proofpoint.com)", "urldefense"),
        ("Microsoft Office Existence Discovery", "existence discovery"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot/"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "slackbot"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "facebookexternalhit"),
        ("WhatsApp/2.23.20.0 A", "whatsapp"),
    ],
)
@pytest.mark.parametrize("kind", ["open", "click"])
def test_scanner_user_agents_are_scanners(ua: str, marker: str, kind: Literal["open", "click"]) -> None:
    verdict = Classifier().classify(hit(kind, ua))
    assert verdict.kind is Kind.SCANNER
    assert f"ua_marker:{marker}" in verdict.reasons
    assert not verdict.is_human


def test_markers_that_would_hit_real_people_are_left_out() -> None:
    for broad in ("bot", "preview", "ms-office", "msoffice", "microsoft office", "google", "yahoo", "electron"):
        assert broad not in DEFAULT_SCANNER_MARKERS


def test_markers_are_configurable_and_case_insensitive() -> None:
    classifier = Classifier(ClassifierConfig(scanner_markers=("Acme-Probe",)))
    assert opened_then(classifier, hit(ua="ACME-PROBE/3.1")) == Verdict(Kind.SCANNER, ("ua_marker:acme-probe",))
    assert opened_then(classifier, hit(ua="curl/8.4.0", recipient="r-2")).kind is Kind.HUMAN


@pytest.mark.parametrize("ua", [None, "", "   "])
def test_missing_user_agent_is_a_scanner(ua: str | None) -> None:
    verdict = Classifier().classify(hit("open", ua))
    assert verdict == Verdict(Kind.SCANNER, ("no_user_agent",))


@pytest.mark.parametrize(
    ("method", "reason"), [("HEAD", "method:HEAD"), ("head", "method:HEAD"), ("POST", "method:other")]
)
def test_non_get_requests_are_scanners(method: str, reason: str) -> None:
    assert Classifier().classify(hit("open", method=method)) == Verdict(Kind.SCANNER, (reason,))


def test_lower_case_get_is_fine() -> None:
    assert opened_then(Classifier(), hit(method="get")).kind is Kind.HUMAN


@pytest.mark.parametrize("ip", ["203.0.113.77", "::ffff:203.0.113.77", "2001:db8:5::1"])
def test_scanner_networks_flag_browsers_from_datacenters(ip: str) -> None:
    classifier = Classifier(ClassifierConfig(scanner_networks=("203.0.113.0/24", "2001:db8:5::/48")))
    assert classifier.classify(hit("open", ip=ip)) == Verdict(Kind.SCANNER, ("scanner_network",))
    assert classifier.classify(hit("open", ip=HOME_IP, recipient="r-9")).kind is Kind.HUMAN


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sec-purpose", "prefetch;prerender"),
        ("purpose", "prefetch"),
        ("x-purpose", "preview"),
        ("x-moz", "prefetch"),
        ("Sec-Purpose", "Prefetch"),
    ],
)
def test_prefetch_headers_mark_prefetches(name: str, value: str) -> None:
    verdict = opened_then(Classifier(), hit("click", headers={**BROWSER_HEADERS, name: value}))
    assert verdict == Verdict(Kind.PREFETCH, (f"prefetch_header:{name.lower()}",))
    assert not verdict.is_human


def test_purpose_headers_without_prefetch_words_do_not_count() -> None:
    click = hit(headers={**BROWSER_HEADERS, "sec-purpose": "", "purpose": "navigate"})
    assert opened_then(Classifier(), click) == Verdict(Kind.HUMAN, ())


@pytest.mark.parametrize(("ua", "reason"), [(GMAIL_PROXY, "gmail_image_proxy"), (YAHOO_PROXY, "yahoo_image_proxy")])
def test_image_proxy_opens_count_as_people(ua: str, reason: str) -> None:
    # Fetched from Google's network twenty minutes after sending: the moment the person opened it.
    verdict = Classifier().classify(hit("open", ua, ip="66.249.84.1", headers={}, now=SENT + timedelta(minutes=20)))
    assert verdict == Verdict(Kind.IMAGE_PROXY, (reason,))
    assert verdict.is_human


@pytest.mark.parametrize(("ua", "reason"), [(GMAIL_PROXY, "gmail_image_proxy"), (YAHOO_PROXY, "yahoo_image_proxy")])
def test_image_proxy_fetch_at_delivery_is_the_proxy_caching(ua: str, reason: str) -> None:
    # Seconds after sending nobody has read it yet: the proxy caches the images as the mail arrives.
    verdict = Classifier().classify(hit("open", ua, ip="66.249.84.1", headers={}, now=SENT + timedelta(seconds=4)))
    assert verdict == Verdict(Kind.PREFETCH, (reason, "proxy_at_delivery_s<30"))
    assert not verdict.is_human


def test_a_plain_browser_string_from_a_proxy_network_at_delivery_is_the_proxy_caching() -> None:
    verdict = Classifier().classify(hit("open", CHROME, ip="66.249.84.1", now=SENT + timedelta(seconds=6)))
    assert verdict == Verdict(Kind.PREFETCH, ("proxy_at_delivery_s<30",))
    late = Classifier().classify(hit("open", CHROME, ip="66.249.84.1", now=SENT + timedelta(minutes=5)))
    assert late.kind is Kind.HUMAN


def test_image_proxy_following_a_link_is_a_machine() -> None:
    verdict = opened_then(Classifier(), hit("click", GMAIL_PROXY))
    assert verdict.kind is Kind.SCANNER
    assert "gmail_image_proxy" in verdict.reasons


def test_apple_mpp_open_from_apple_network_late_after_send() -> None:
    verdict = Classifier().classify(hit("open", APPLE_MPP, ip=APPLE_IP, headers={}, now=SENT + timedelta(days=2)))
    assert verdict == Verdict(Kind.APPLE_MPP, ("apple_bare_webkit_ua", "apple_network"))
    assert not verdict.is_human


def test_apple_mpp_open_soon_after_send_from_elsewhere() -> None:
    verdict = Classifier().classify(hit("open", APPLE_MPP, ip="172.224.7.9", now=SENT + timedelta(minutes=3)))
    assert verdict == Verdict(Kind.APPLE_MPP, ("apple_bare_webkit_ua", "sent_ago_s<3600"))


@pytest.mark.parametrize("sent", [SENT, None])
def test_bare_webkit_open_late_and_off_apple_network_is_unknown(sent: datetime | None) -> None:
    # Outlook for Mac sends the same user agent when a person opens the mail days later.
    verdict = Classifier().classify(hit("open", APPLE_MPP, sent=sent, now=SENT + timedelta(days=1)))
    assert verdict == Verdict(Kind.UNKNOWN, ("apple_bare_webkit_ua",))


def test_apple_window_is_configurable() -> None:
    classifier = Classifier(ClassifierConfig(apple_prefetch_window_seconds=60))
    assert classifier.classify(hit("open", APPLE_MPP, now=SENT + timedelta(minutes=3))).kind is Kind.UNKNOWN


@pytest.mark.parametrize("ua", [IPHONE_MAIL, SAFARI, SAFARI_IPHONE])
def test_apple_user_agents_with_more_after_gecko_are_not_mpp(ua: str) -> None:
    verdict = Classifier().classify(hit("open", ua, ip=APPLE_IP, now=SENT + timedelta(minutes=1)))
    assert verdict == Verdict(Kind.HUMAN, ())


def test_bare_webkit_click_is_only_a_weak_signal() -> None:
    assert opened_then(Classifier(), hit("click", APPLE_MPP)) == Verdict(Kind.HUMAN, ("apple_bare_webkit_ua",))
    from_apple = opened_then(Classifier(), hit("click", APPLE_MPP, ip=APPLE_IP))
    assert from_apple == Verdict(Kind.UNKNOWN, ("apple_bare_webkit_ua", "apple_network"))


@pytest.mark.parametrize(("after", "kind"), [(0.5, Kind.SCANNER), (9.9, Kind.SCANNER), (10.0, Kind.HUMAN)])
def test_click_seconds_after_send_is_a_scanner(after: float, kind: Kind) -> None:
    verdict = opened_then(Classifier(), hit(now=SENT + timedelta(seconds=after)))
    assert verdict.kind is kind
    assert ("sent_ago_s<10" in verdict.reasons) is (kind is Kind.SCANNER)


def test_click_before_send_time_counts_as_too_soon() -> None:
    verdict = opened_then(Classifier(), hit(now=SENT - timedelta(seconds=30)))
    assert verdict == Verdict(Kind.SCANNER, ("sent_ago_s<10",))


def test_min_click_delay_is_configurable_and_skipped_without_send_time() -> None:
    classifier = Classifier(ClassifierConfig(min_click_seconds_after_send=60))
    assert opened_then(classifier, hit(now=SENT + timedelta(seconds=30))).reasons == ("sent_ago_s<60",)
    assert opened_then(classifier, hit(recipient="r-2", sent=None)) == Verdict(Kind.HUMAN, ())


def test_click_before_open_alone_stays_human_but_is_reported() -> None:
    assert Classifier().classify(hit()) == Verdict(Kind.HUMAN, ("click_before_open",))


def test_two_weak_signals_make_unknown() -> None:
    verdict = Classifier().classify(hit(headers={"accept": "*/*"}))
    assert verdict == Verdict(Kind.UNKNOWN, ("no_accept_language", "click_before_open"))


def test_no_accept_language_alone_stays_human() -> None:
    verdict = opened_then(Classifier(), hit(headers={"accept": "*/*", "accept-language": " "}))
    assert verdict == Verdict(Kind.HUMAN, ("no_accept_language",))


def test_an_open_of_any_verdict_counts_for_click_before_open() -> None:
    classifier = Classifier()
    classifier.classify(hit("open", APPLE_MPP, ip=APPLE_IP))
    assert classifier.classify(hit()) == Verdict(Kind.HUMAN, ())


def test_opens_count_only_for_the_same_campaign_and_recipient() -> None:
    classifier = Classifier()
    classifier.classify(hit("open", IPHONE_MAIL, campaign="winter", recipient="r-1"))
    classifier.classify(hit("open", IPHONE_MAIL, campaign="spring-sale", recipient="r-2"))
    assert classifier.classify(hit()).reasons == ("click_before_open",)


def test_anonymous_clicks_never_get_click_before_open() -> None:
    assert Classifier().classify(hit(recipient="")) == Verdict(Kind.HUMAN, ())


def test_strong_signal_wins_and_every_signal_is_listed() -> None:
    headers = {"purpose": "prefetch"}
    verdict = Classifier().classify(hit(ua="curl/8.4.0", method="HEAD", headers=headers, now=SENT))
    assert verdict.kind is Kind.PREFETCH
    assert verdict.reasons == (
        "prefetch_header:purpose",
        "ua_marker:curl",
        "method:HEAD",
        "sent_ago_s<10",
        "click_before_open",
    )


def test_scanner_beats_apple_mpp() -> None:
    verdict = Classifier().classify(hit("open", APPLE_MPP, method="HEAD", ip=APPLE_IP))
    assert verdict == Verdict(Kind.SCANNER, ("method:HEAD", "apple_bare_webkit_ua", "apple_network"))


def clicks_at(classifier: Classifier, *plan: tuple[float, str, str]) -> list[Kind]:
    """Classify clicks of (seconds after LATER, link, ip) for one opened email; return the verdict kinds."""
    classifier.classify(hit("open", IPHONE_MAIL))
    return [classifier.classify(hit(link=link, ip=ip, now=LATER + timedelta(seconds=t))).kind for t, link, ip in plan]


def test_link_burst_flags_the_click_that_completes_it_and_the_following_ones() -> None:
    kinds = clicks_at(Classifier(), (0, "a", HOME_IP), (0.4, "b", HOME_IP), (0.8, "c", HOME_IP), (1.5, "d", HOME_IP))
    assert kinds == [Kind.HUMAN, Kind.HUMAN, Kind.SCANNER, Kind.SCANNER]


def test_link_burst_reason() -> None:
    classifier = Classifier()
    clicks_at(classifier, (0, "a", HOME_IP), (0.1, "b", HOME_IP))
    verdict = classifier.classify(hit(link="c", now=LATER + timedelta(seconds=0.2)))
    assert verdict == Verdict(Kind.SCANNER, ("link_burst",))


@pytest.mark.parametrize(
    "plan",
    [
        ((0, "a", HOME_IP), (3, "b", HOME_IP), (6, "c", HOME_IP)),  # a person reading along
        ((0, "a", HOME_IP), (0.2, "a", HOME_IP), (0.4, "b", HOME_IP)),  # a double click is one link
        ((0, "a", HOME_IP), (3, "b", "203.0.113.7"), (6, "c", "192.0.2.8")),  # reading along, phone then laptop
    ],
)
def test_not_a_burst(plan: tuple[tuple[float, str, str], ...]) -> None:
    assert clicks_at(Classifier(), *plan) == [Kind.HUMAN] * 3


def test_burst_ends_after_the_window() -> None:
    kinds = clicks_at(Classifier(), (0, "a", HOME_IP), (0.1, "b", HOME_IP), (0.2, "c", HOME_IP), (10, "d", HOME_IP))
    assert kinds == [Kind.HUMAN, Kind.HUMAN, Kind.SCANNER, Kind.HUMAN]


def test_burst_size_and_window_are_configurable() -> None:
    classifier = Classifier(ClassifierConfig(burst_links=2, burst_window_seconds=5))
    assert clicks_at(classifier, (0, "a", HOME_IP), (4, "b", HOME_IP)) == [Kind.HUMAN, Kind.SCANNER]


def test_anonymous_bursts_are_caught_per_address() -> None:
    classifier = Classifier()
    kinds = [
        classifier.classify(hit(recipient="", link=link, ip=ip, now=LATER + timedelta(seconds=t))).kind
        for t, link, ip in [(0, "a", "192.0.2.1"), (0.1, "b", "192.0.2.2"), (0.2, "b", HOME_IP), (0.3, "c", HOME_IP)]
    ]
    assert kinds == [Kind.HUMAN, Kind.HUMAN, Kind.HUMAN, Kind.HUMAN]
    assert classifier.classify(hit(recipient="", link="d", now=LATER + timedelta(seconds=0.4))).kind is Kind.SCANNER


def test_anonymous_burst_is_seen_among_many_other_readers() -> None:
    classifier = Classifier()
    at = LATER
    assert classifier.classify(hit(recipient="", link="a", now=at)).kind is Kind.HUMAN
    for n in range(40):  # a big campaign: other people click in the same second
        classifier.classify(hit(recipient="", link="a", ip=f"192.0.2.{n}", now=at + timedelta(seconds=0.01 * n)))
    assert classifier.classify(hit(recipient="", link="b", now=at + timedelta(seconds=0.5))).kind is Kind.HUMAN
    assert classifier.classify(hit(recipient="", link="c", now=at + timedelta(seconds=0.6))).kind is Kind.SCANNER


def test_a_click_stamped_long_before_earlier_ones_is_not_part_of_their_burst() -> None:
    # Several workers or a clock step can deliver hits out of order.
    kinds = clicks_at(Classifier(), (100, "a", HOME_IP), (100.1, "b", HOME_IP), (0, "c", HOME_IP))
    assert kinds == [Kind.HUMAN] * 3


def test_anonymous_opens_take_no_memory() -> None:
    classifier = Classifier()
    for n in range(10):
        classifier.classify(hit("open", IPHONE_MAIL, recipient="", ip=f"192.0.2.{n}"))
    assert classifier.remembered == 0


def test_memory_never_grows_past_its_bound_and_forgets_the_least_recent() -> None:
    classifier = Classifier(ClassifierConfig(memory_entries=50))
    for n in range(500):
        classifier.classify(hit("open", IPHONE_MAIL, recipient=f"r-{n}"))
        classifier.classify(hit("click", recipient=f"c-{n}", ip=f"10.{n % 250}.{n // 250}.1"))  # own networks
        assert classifier.remembered <= 50
    assert classifier.remembered == 50
    assert classifier.classify(hit(recipient="r-0")).reasons == ("click_before_open",)  # forgotten
    assert classifier.classify(hit(recipient="r-499")).reasons == ()  # still remembered


def test_memory_keeps_recently_active_entries() -> None:
    classifier = Classifier(ClassifierConfig(memory_entries=2))
    classifier.classify(hit("open", IPHONE_MAIL, recipient="a"))
    classifier.classify(hit("open", IPHONE_MAIL, recipient="b"))
    classifier.classify(hit("open", IPHONE_MAIL, recipient="a"))  # a is active again
    classifier.classify(hit("open", IPHONE_MAIL, recipient="c"))  # evicts b
    assert classifier.classify(hit(recipient="a")).reasons == ()
    assert classifier.classify(hit(recipient="b")).reasons == ("click_before_open",)


def test_naive_datetimes_are_read_as_utc() -> None:
    naive = hit(sent=SENT.replace(tzinfo=None), now=(SENT + timedelta(seconds=3)).replace(tzinfo=None))
    assert Classifier().classify(naive).reasons == ("sent_ago_s<10", "click_before_open")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"apple_networks": ("not-a-network",)}, "not-a-network"),
        ({"scanner_networks": ("10.0.0.0/33",)}, "33"),
        ({"burst_links": 1}, "burst_links"),
        ({"memory_entries": 0}, "memory_entries"),
    ],
)
def test_bad_configuration_fails_at_startup(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Classifier(ClassifierConfig(**config))


# -- properties ---------------------------------------------------------------------------------------------------

_names = st.sampled_from(
    ["user-agent", "accept-language", "sec-purpose", "purpose", "x-purpose", "x-moz", "accept", "x-other"]
) | st.text(min_size=1, max_size=12)
# HTTP header names are ASCII tokens; Unicode case mapping does not round-trip (e.g. "ß".upper() == "SS").
_token_names = _names.filter(lambda name: name.isascii())
_values = st.sampled_from([CHROME, APPLE_MPP, GMAIL_PROXY, "curl/8", "prefetch", "en", ""]) | st.text(max_size=60)
_ips = st.sampled_from([HOME_IP, APPLE_IP, "::ffff:17.0.0.1", "fe80::1%eth0", "2001:db8::1"]) | st.text(max_size=40)
_moments = st.datetimes(timezones=st.just(UTC) | st.none())


@st.composite
def hits(draw: st.DrawFn, names: st.SearchStrategy[str] = _names) -> Hit:
    return Hit(
        kind=draw(st.sampled_from(["open", "click"])),
        method=draw(st.sampled_from(["GET", "HEAD", "get", "POST"]) | st.text(max_size=10)),
        headers=draw(st.dictionaries(names, _values, max_size=8)),
        ip=draw(_ips),
        campaign_id=draw(st.text(max_size=8)),
        recipient=draw(st.sampled_from(["", "r-1"]) | st.text(max_size=8)),
        link_id=draw(st.none() | st.text(max_size=8)),
        send_time=draw(st.none() | _moments),
        now=draw(_moments),
    )


@settings(max_examples=300, database=None)
@given(st.lists(hits(), min_size=1, max_size=6))
def test_classify_never_raises_and_returns_a_kind_with_str_reasons(sequence: list[Hit]) -> None:
    classifier = Classifier(ClassifierConfig(scanner_networks=("203.0.113.0/24", "2001:db8::/32"), memory_entries=3))
    for one in sequence:
        verdict = classifier.classify(one)
        assert isinstance(verdict.kind, Kind)
        assert isinstance(verdict.reasons, tuple)
        assert all(isinstance(reason, str) for reason in verdict.reasons)
        assert verdict.is_human is (verdict.kind in (Kind.HUMAN, Kind.IMAGE_PROXY))
        assert classifier.remembered <= 3


@settings(max_examples=200, database=None)
@given(hits(_token_names), st.randoms(use_true_random=False))
def test_verdict_does_not_depend_on_header_name_case(one: Hit, rng: Random) -> None:
    lower = {name.lower(): value for name, value in one.headers.items()}
    mixed = {"".join(c.upper() if rng.random() < 0.5 else c for c in name): v for name, v in lower.items()}
    assert Classifier().classify(replace(one, headers=lower)) == Classifier().classify(replace(one, headers=mixed))
