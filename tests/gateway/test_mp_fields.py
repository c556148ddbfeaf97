"""What /mp/collect keeps of MP's request-level fields under each combination of consent, and what it says."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from consent import Purpose
from consent.egress import BITS
from gateway.api.mp_fields import keep
from gateway.ga4.user_data import email_hash
from identity import Pseudonymizer
from identity.personal import PersonalData

PERSONAL = PersonalData(Pseudonymizer([("k1", "a-test-pseudonym-key-of-32-characters!")]))
PAYLOAD = {
    "client_id": "1.2",
    "user_properties": {"tier": {"value": "gold"}},
    "device": {"category": "desktop"},
    "user_agent": "ShopApp/1.0",
    "user_location": {"city": "Berlin"},
    "ip_override": "2001:db8:1234:5678::1",
    "non_personalized_ads": True,
    "user_data": {"sha256_email_address": ["Ann@Shop.example"]},
    "events": [{"name": "x_y"}],
}
ANALYTICS, AD_DATA = BITS[Purpose.ANALYTICS_STORAGE], BITS[Purpose.AD_USER_DATA]


@pytest.mark.parametrize(
    ("mask", "private", "dropped", "withheld"),
    [
        (ANALYTICS | AD_DATA, {"ip_override", "user_data"}, [], []),
        (ANALYTICS, {"ip_override"}, ["user_data;reason=consent"], []),
        (AD_DATA, {"user_data"}, ["ip_override;reason=consent"], ["user_location;reason=consent"]),
        (0, set(), ["ip_override;reason=consent", "user_data;reason=consent"], ["user_location;reason=consent"]),
    ],
)
def test_each_field_is_kept_or_named(mask: int, private: set[str], dropped: list[str], withheld: list[str]) -> None:
    kept = keep(PAYLOAD, mask, PERSONAL, Counter(), v4_prefix=24, v6_prefix=48)
    # Always stored, whatever the consent.
    assert json.loads(kept.params["mp_user_properties"]) == {"tier": {"value": "gold"}}
    assert json.loads(kept.params["mp_device"]) == {"category": "desktop"}
    assert json.loads(kept.params["mp_user_location"]) == {"city": "Berlin"}
    assert json.loads(kept.params["mp_non_personalized_ads"]) is True
    assert kept.user_agent == "ShopApp/1.0"
    assert kept.ip_truncated == "2001:db8:1234::"
    assert set(kept.private) == private
    assert kept.dropped == dropped
    assert kept.withheld == withheld
    if "user_data" in private:
        assert kept.private["user_data"] == {"sha256_email_address": [email_hash("ann@shop.example")]}
    stored = json.dumps(kept.params) + kept.user_agent + kept.ip_truncated
    assert "5678" not in stored
    assert "Ann@Shop.example" not in stored
    assert (kept.private_json() is None) == (not private)


def test_emails_inside_stored_fields_become_pseudonyms() -> None:
    found: Counter[str] = Counter()
    kept = keep({"user_properties": {"contact": {"value": "ann@shop.com"}}, "device": {"model": "bob@shop.com"}},
                0, PERSONAL, found, v4_prefix=24, v6_prefix=48)  # fmt: skip
    assert "@" not in json.dumps(kept.params)
    assert found["email"] == 2
    assert kept.headers() == {}
