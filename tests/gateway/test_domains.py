"""The one host-matching rule of GA4GW_LANDING_DOMAINS and GA4GW_LINK_DESTINATIONS, and the default domain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.edge.domains import host_allowed, host_of, landing_domains, registrable_domain


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://shop.example/p?x=1", "shop.example"),
        ("https://WWW.Shop.Example:8443/p", "www.shop.example"),
        ("https://shop.example.", "shop.example"),
        ("https://user:pw@shop.example/p", "shop.example"),
        ("https://shop.example@evil.example/p", "evil.example"),  # user info is not the host
        ("https://evil.example\\@shop.example/", "evil.example"),  # a browser ends the authority at \
        ("https://evil.example#@shop.example/", "evil.example"),
        ("https://evil.example?@shop.example/", "evil.example"),
        ("http://[2001:db8::1]:8080/p", "2001:db8::1"),
        ("mailto:ann@shop.example", ""),
    ],
)
def test_the_host_is_read_as_a_browser_reads_it(url: str, host: str) -> None:
    assert host_of(url) == host


def test_a_domain_covers_itself_and_its_subdomains_only() -> None:
    domains = ("shop.example",)
    assert host_allowed("shop.example", domains)
    assert host_allowed("www.shop.example", domains)
    assert host_allowed("a.b.shop.example", domains)
    for host in ("evilshop.example", "shop.example.evil", "example", "", "shop.exampl"):
        assert not host_allowed(host, domains), host


def test_the_default_landing_domain_is_the_public_urls_registrable_domain() -> None:
    assert landing_domains((), "https://t.shop.example") == ("shop.example",)
    assert landing_domains((), "https://click.mail.shop.co.uk/") == ("shop.co.uk",)
    assert landing_domains((), "https://t.brand.myshopify.com") == ("brand.myshopify.com",)  # a private suffix
    assert landing_domains((), "http://127.0.0.1:8080") == ("127.0.0.1",)
    assert landing_domains((), "http://localhost:8080") == ("localhost",)
    assert landing_domains(("a.example", "b.example"), "https://t.shop.example") == ("a.example", "b.example")
    assert registrable_domain("co.uk") == "co.uk"  # a bare public suffix owns nothing: itself


@given(st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,3}", fullmatch=True), st.sampled_from(["", "www.", "a.b."]))
def test_a_url_on_a_listed_domain_is_allowed_and_a_lookalike_is_not(domain: str, sub: str) -> None:
    assert host_allowed(host_of(f"https://{sub}{domain}/p?q=1"), (domain,))
    assert not host_allowed(host_of(f"https://{sub}x{domain}/p"), (domain,))
    assert not host_allowed(host_of(f"https://{domain}.evil/p"), (domain,))
