"""Rate limits per client: counting, refusing with a retry time, and the settings' notation."""

from __future__ import annotations

import pytest

from gateway.api.ratelimit import RateLimits
from gateway.config.settings import load_settings
from gateway.errors import RateLimited, SettingsError


def test_failures_block_only_the_client_that_failed() -> None:
    limits = RateLimits("3/minute", "", "")
    for _ in range(3):
        limits.check_auth("192.0.2.1")
        limits.auth_failed("192.0.2.1", "/v1/links", "the token has expired")
    with pytest.raises(RateLimited) as refused:
        limits.check_auth("192.0.2.1")
    assert (refused.value.limit, refused.value.rate) == ("auth_failures", "3 per 1 minute")
    assert 1 <= refused.value.retry_after <= 60
    limits.check_auth("192.0.2.2")


def test_api_and_mp_are_counted_apart_and_an_empty_rate_is_no_limit() -> None:
    limits = RateLimits("", "2/second", "")
    assert limits.hit("api", "a") is None
    assert limits.hit("api", "a") is None
    refused = limits.hit("api", "a")
    assert refused is not None
    assert refused.limit == "api"
    assert limits.hit("api", "b") is None
    assert all(limits.hit("mp", "a") is None for _ in range(100))
    for _ in range(100):
        limits.auth_failed("a", "/mp/collect", "api_secret missing")
    limits.check_auth("a")


@pytest.mark.parametrize("value", ["lots", "10/fortnight", "ten per minute"])
def test_a_rate_that_is_not_one_names_the_setting(value: str) -> None:
    with pytest.raises(SettingsError) as exc:
        load_settings({"GA4GW_RATE_API": value})
    assert exc.value.variable == "GA4GW_RATE_API"


def test_several_rates_are_allowed() -> None:
    assert load_settings({"GA4GW_RATE_MP": "20/second;600/minute"}).rate_mp == "20/second;600/minute"
